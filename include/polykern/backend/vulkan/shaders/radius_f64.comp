#version 450
#extension GL_GOOGLE_include_directive : require
// Radius and k-nearest queries, double (needs shaderFloat64). The body is radius_body.glsl.
#define T double
#include "radius_body.glsl"
