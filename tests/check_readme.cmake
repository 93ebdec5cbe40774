# Fails when the README's code example is not the tested consumer program.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md no longer contains tests/consumer/main.cpp verbatim: update one from the other")
endif()
