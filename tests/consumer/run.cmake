# Builds tests/consumer as a user would: MODE=find_package installs polykern into a
# temporary prefix first; MODE=add_subdirectory points the consumer at the source tree.
# NAME names the case, OPTIONS (';'-separated) go to polykern's configure, and EXPECT is
# the policy name the consumer must report as exec::default_policy.
set(root ${WORK_DIR}/${NAME})
file(REMOVE_RECURSE ${root})
set(consumer_options -DPOLYKERN_CONSUMER_MODE=${MODE} -DWITH_VULKAN=${WITH_VULKAN} ${OPTIONS})
if(MODE STREQUAL "find_package")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${root}/polykern -G ${GENERATOR}
                          -DPOLYKERN_BUILD_TESTS=OFF -DPOLYKERN_BUILD_BENCH=OFF -DPOLYKERN_BUILD_EXAMPLES=OFF
                          -DPOLYKERN_BUILD_PYTHON=OFF
                          -DCMAKE_INSTALL_PREFIX=${root}/prefix ${OPTIONS} COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${root}/polykern COMMAND_ERROR_IS_FATAL ANY)
  list(APPEND consumer_options -DCMAKE_PREFIX_PATH=${root}/prefix)
else()
  list(APPEND consumer_options -DPOLYKERN_SOURCE_DIR=${SOURCE_DIR})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${root}/build -G ${GENERATOR}
                        ${consumer_options} COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${root}/build COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${root}/build/consumer OUTPUT_VARIABLE printed COMMAND_ERROR_IS_FATAL ANY)
if(NOT printed MATCHES "^${EXPECT}: \\(11, 22, 33\\)")
  message(FATAL_ERROR "consumer printed '${printed}', expected the ${EXPECT} policy")
endif()
