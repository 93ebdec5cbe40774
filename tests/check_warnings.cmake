# Compiles tests/consumer/every_family.cpp as a user would (-Wall -Wextra -Wpedantic) at
# -O1, -O2 and -O3 with one compiler, and fails on any warning (issue: a header-only
# library is judged in its users' builds).
#   cmake -DCXX=g++ -DSOURCE=... -DFLAGS="-std=c++20|-Iinclude|..." -P check_warnings.cmake
string(REPLACE "|" ";" flags "${FLAGS}")
set(failed "")
foreach(level -O1 -O2 -O3)
  execute_process(COMMAND ${CXX} ${flags} ${level} -Wall -Wextra -Wpedantic -c ${SOURCE} -o /dev/null
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX MATCHALL "warning:" warnings "${out}${err}")
  list(LENGTH warnings count)
  if(NOT rc EQUAL 0 OR count GREATER 0)
    string(SUBSTRING "${err}" 0 4000 head)
    message("${CXX} ${level}: exit ${rc}, ${count} warnings\n${head}")
    list(APPEND failed "${level}")
  else()
    message("${CXX} ${level}: 0 warnings")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "warnings or errors at ${failed}")
endif()
