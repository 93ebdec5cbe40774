# cmake -DGLSLC=... -DSOURCE=x.comp -DOUTPUT=x.spv.hpp -P embed_spirv.cmake
# Compiles one GLSL compute shader to SPIR-V and writes it as a uint32_t array header
# (not bytes: SPIR-V must be 4-byte aligned when handed to vkCreateShaderModule).
get_filename_component(name "${SOURCE}" NAME_WE)
get_filename_component(file "${SOURCE}" NAME)
set(numbers "${OUTPUT}.num")
execute_process(
  COMMAND "${GLSLC}" -O --target-env=vulkan1.1 -mfmt=num -o "${numbers}" "${SOURCE}"
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "glslc failed on ${SOURCE}:\n${err}")
endif()
file(READ "${numbers}" body)
file(REMOVE "${numbers}")
string(STRIP "${body}" body)
string(REGEX REPLACE ",?[ \t\r\n]+" ",\n" body "${body}")
string(REGEX REPLACE ",$" "" body "${body}")
string(MAKE_C_IDENTIFIER "${name}" ident)
file(WRITE "${OUTPUT}"
"// Generated from ${file} by glslc (cmake --build <dir> --target polykern_shaders). Do not edit.\n"
"#pragma once\n#include <cstdint>\n\nnamespace polykern::vulkan::shaders {\n"
"inline constexpr std::uint32_t ${ident}[] = {\n${body}\n};\n}  // namespace polykern::vulkan::shaders\n")
