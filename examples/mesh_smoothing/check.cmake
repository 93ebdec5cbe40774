# cmake -DEXE=<mesh_smoothing> -DWORK_DIR=<dir> -DPOLICIES=scalar,simd,... -P check.cmake
# The example's own test: a generated mesh smoothed with every policy, the results checked
# by the example's --check mode, and bad inputs rejected with a message and exit status.
string(REPLACE "," ";" POLICIES "${POLICIES}")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run expected_rc expected_text)
  execute_process(COMMAND "${EXE}" ${ARGN} WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expected_rc)
    message(FATAL_ERROR "mesh_smoothing ${ARGN}: exit ${rc}, expected ${expected_rc}\n${out}${err}")
  endif()
  if(NOT "${out}${err}" MATCHES "${expected_text}")
    message(FATAL_ERROR "mesh_smoothing ${ARGN}: output lacks '${expected_text}'\n${out}${err}")
  endif()
  message(STATUS "mesh_smoothing ${ARGN}: ok")
  set(last_output "${out}${err}" PARENT_SCOPE)
endfunction()

run(0 "" --make-test-mesh mesh.obj weights.csv)
set(results)
foreach(policy IN LISTS POLICIES)
  execute_process(COMMAND "${EXE}" mesh.obj ${policy} --weights weights.csv --iterations 3 --out out_${policy}.csv
                  WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(policy STREQUAL "vulkan" AND NOT rc EQUAL 0 AND "${err}" MATCHES "vulkan:" AND NOT "$ENV{CI}" STREQUAL "true")
    message(STATUS "no usable Vulkan device here (${err}); the vulkan run is left out")
    continue()
  endif()
  if(NOT rc EQUAL 0 OR NOT out MATCHES "time: tree")
    message(FATAL_ERROR "mesh_smoothing mesh.obj ${policy}: exit ${rc}\n${out}${err}")
  endif()
  message(STATUS "${policy}: ${out}")
  list(APPEND results out_${policy}.csv)
endforeach()
run(0 "check passed" --check mesh.obj weights.csv ${results})

# PLY output with a `weights` list property, and the synthetic pattern.
run(0 "wrote out.ply" mesh.obj simd --out out.ply)
file(READ "${WORK_DIR}/out.ply" ply LIMIT 300)
if(NOT ply MATCHES "^ply\nformat ascii 1.0\n" OR NOT ply MATCHES "property list uchar float weights\nend_header\n")
  message(FATAL_ERROR "out.ply has an unexpected header:\n${ply}")
endif()

# Bad input: clear message, non-zero exit.
run(1 "missing.obj: cannot open" missing.obj simd)
file(WRITE "${WORK_DIR}/bad.obj" "# two vertices\nv 0 0 0\nv 1 2\n")
run(1 "bad.obj:3: a vertex needs three finite numbers" bad.obj simd)
file(WRITE "${WORK_DIR}/empty.obj" "# nothing\nf 1 2 3\n")
run(1 "empty.obj: no vertices" empty.obj simd)
file(WRITE "${WORK_DIR}/short.csv" "w0,w1\n1,0\n0,1\n")
run(1 "short.csv: 2 rows of weights for 7200 vertices" mesh.obj simd --weights short.csv)
file(WRITE "${WORK_DIR}/ragged.csv" "1,0\n0,1,0\n")
run(1 "ragged.csv:2: 3 columns; the first row has 2" mesh.obj simd --weights ragged.csv)
run(2 "unknown or unavailable policy 'gpu'" mesh.obj gpu)
run(2 "--radius needs a non-negative number" mesh.obj simd --radius -1)
run(2 "expected MESH.obj POLICY" mesh.obj)
