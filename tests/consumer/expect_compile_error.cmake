# Compiles SOURCE with CXX and FLAGS ("|"-separated) and passes only if the compile fails
# with EXPECT in its diagnostics (a static_assert's text, say).
string(REPLACE "|" ";" flags "${FLAGS}")
execute_process(COMMAND ${CXX} ${flags} -fsyntax-only ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled; it must not")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  string(SUBSTRING "${err}" 0 3000 head)
  message(FATAL_ERROR "the compile failed without \"${EXPECT}\":\n${head}")
endif()
message("failed as expected, with \"${EXPECT}\"")
