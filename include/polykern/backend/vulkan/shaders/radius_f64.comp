#version 450
#extension GL_GOOGLE_include_directive : require
// Radius and k-nearest queries, double (needs shaderFloat64). The body is radius_body.glsl.
#define T double
#define T_INF packDouble2x32(uvec2(0u, 0x7ff00000u))
#include "radius_body.glsl"
