#version 450
#extension GL_GOOGLE_include_directive : require
// Radius and k-nearest queries, float. The body is radius_body.glsl.
#define T float
#define T_INF uintBitsToFloat(0x7f800000u)
#include "radius_body.glsl"
