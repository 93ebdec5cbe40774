#version 450
#extension GL_GOOGLE_include_directive : require
// Gathering a chunk's values, double (needs shaderFloat64). The body is smooth_gather_body.glsl.
#define T double
#include "smooth_gather_body.glsl"
