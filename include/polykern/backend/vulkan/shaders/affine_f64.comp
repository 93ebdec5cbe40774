#version 450
// Affine transform of xyz points or normals, double (needs shaderFloat64). One invocation per point.
// in: points with a stride of `in_stride` doubles; out: packed xyz (double[3*i], never dvec3).
// Segment table of this chunk: starts[s] is the first point of segment s (starts[0] = 0,
// strictly increasing), mats[12*s ..] its row-major 3x4 coefficients ([R | t] for points,
// [N | 0] for normals, N proportional to inverse(R)^T). A dispatch over one segment
// (every single-matrix call, and each segment of a chunk with few of them) gets them as
// push constants instead: uniform loads, no search.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool NORMALS = false;
layout(std430, binding = 0) readonly buffer In { double src[]; };
layout(std430, binding = 1) writeonly buffer Out { double dst[]; };
layout(std430, binding = 2) readonly buffer Starts { uint starts[]; };
layout(std430, binding = 3) readonly buffer Matrices { double mats[]; };
layout(push_constant) uniform Push {
  uint count;      // points of this dispatch
  uint segments;   // entries in starts / mats
  uint in_stride;  // doubles between input points
  uint row_width;  // invocations per row of the 2D grid
  uint first;      // the first point of this dispatch, relative to the chunk
  uint pad0, pad1, pad2;
  double m[12];     // the coefficients when segments == 1
} pc;

void transform(uint i) {
  double k[12];
  if (pc.segments == 1) {
    for (int e = 0; e < 12; ++e) k[e] = pc.m[e];
  } else {
    uint lo = 0, hi = pc.segments;  // the last segment starting at or before i
    while (hi - lo > 1) {
      const uint mid = (lo + hi) / 2;
      if (starts[mid] <= i) lo = mid; else hi = mid;
    }
    for (uint e = 0; e < 12; ++e) k[e] = mats[12 * lo + e];
  }
  const uint p = i * pc.in_stride;
  const double x = src[p], y = src[p + 1], z = src[p + 2];
  double a, b, c;
  if (NORMALS) {
    a = fma(k[0], x, fma(k[1], y, k[2] * z));
    b = fma(k[4], x, fma(k[5], y, k[6] * z));
    c = fma(k[8], x, fma(k[9], y, k[10] * z));
    const double len2 = fma(a, a, fma(b, b, c * c));
    if (len2 != 0.0lf) {  // a zero normal stays zero
      const double inv = 1.0lf / sqrt(len2);
      a *= inv, b *= inv, c *= inv;
    }
  } else {
    a = fma(k[0], x, fma(k[1], y, fma(k[2], z, k[3])));
    b = fma(k[4], x, fma(k[5], y, fma(k[6], z, k[7])));
    c = fma(k[8], x, fma(k[9], y, fma(k[10], z, k[11])));
  }
  dst[3 * i] = a, dst[3 * i + 1] = b, dst[3 * i + 2] = c;
}

// Grid-stride loop: the host launches at most a few thousand workgroups, each invocation
// takes every (invocations in the grid)-th point. Far fewer workgroup launches (the main
// per-dispatch cost on lavapipe) and still enough invocations to fill a large GPU.
void main() {
  const uint grid = pc.row_width * gl_NumWorkGroups.y;
  for (uint i = gl_GlobalInvocationID.y * pc.row_width + gl_GlobalInvocationID.x; i < pc.count; i += grid)
    transform(pc.first + i);
}
