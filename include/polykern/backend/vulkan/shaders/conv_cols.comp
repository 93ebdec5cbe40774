#version 450
#extension GL_EXT_control_flow_attributes : require
// Vertical pass of the separable method: tmp(y, e) = sum_j ky[j] * src(table[y + j], e) for
// the rows of one band. Each invocation owns one element column and ROWS consecutive
// output rows, so every source value it loads feeds up to ROWS outputs from registers;
// neighbouring invocations read neighbouring elements (coalesced).
layout(local_size_x_id = 0) in;
const uint ROWS = 8;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) readonly buffer Params { uint params[]; };
layout(std430, binding = 2) writeonly buffer Tmp { float tmp[]; };

layout(push_constant) uniform Push {
  uint in_offset;   // elements (float) or bytes (uint8) to the binding's first row
  uint in_stride;
  uint in_u8;
  uint elems;       // width * channels
  uint rows;        // output rows of the band
  uint table;       // params index of the row table: int per window row, -1 outside (constant)
  uint k_offset;    // params index of ky[0]
  uint kh;
  float outside;
} pc;

float load_src(int row, uint e) {
  if (pc.in_u8 != 0u) {
    uint byte = pc.in_offset + uint(row) * pc.in_stride + e;
    return float((src[byte >> 2] >> (8u * (byte & 3u))) & 255u);
  }
  return uintBitsToFloat(src[pc.in_offset + uint(row) * pc.in_stride + e]);
}

void main() {
  const uint e = gl_GlobalInvocationID.x;
  const uint y0 = gl_WorkGroupID.y * ROWS;
  if (e >= pc.elems) return;
  float acc[ROWS];
  [[unroll]] for (uint r = 0; r < ROWS; ++r) acc[r] = 0.0;
  const uint window = pc.kh + ROWS - 1u;
  for (uint s = 0; s < window; ++s) {
    const int row = int(params[pc.table + y0 + s]);
    const float v = row < 0 ? pc.outside : load_src(row, e);
    [[unroll]] for (uint r = 0; r < ROWS; ++r) {
      const int j = int(s) - int(r);
      if (j >= 0 && j < int(pc.kh)) acc[r] += uintBitsToFloat(params[pc.k_offset + uint(j)]) * v;
    }
  }
  [[unroll]] for (uint r = 0; r < ROWS; ++r)
    if (y0 + r < pc.rows) tmp[(y0 + r) * pc.elems + e] = acc[r];
}
