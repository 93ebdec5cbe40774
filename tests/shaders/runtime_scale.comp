#version 450
// Runtime test shader: data[i] = data[i] * factor + offset, over `count` floats.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const float factor = 1.0;
layout(std430, binding = 0) readonly buffer In { float src[]; };
layout(std430, binding = 1) writeonly buffer Out { float dst[]; };
layout(push_constant) uniform Push { uint count; float offset; } pc;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < pc.count) dst[i] = src[i] * factor + pc.offset;
}
