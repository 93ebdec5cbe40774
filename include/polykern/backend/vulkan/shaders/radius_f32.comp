#version 450
#extension GL_GOOGLE_include_directive : require
// Radius and k-nearest queries, float. The body is radius_body.glsl.
#define T float
#include "radius_body.glsl"
