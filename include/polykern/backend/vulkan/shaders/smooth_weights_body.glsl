// Gaussian weights of a chunk of graph rows, once per graph (included by
// smooth_weights_f32.comp / smooth_weights_f64.comp, which define T and EXP): dist2 is
// replaced by exp(a * dist2) normalised per row; a row with no neighbour other than
// itself (or whose weights sum to 0) is marked to keep its own value.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Rows { uint rows[]; };     // row offsets in the chunk (rows + 1)
layout(std430, binding = 1) readonly buffer Index { uint index[]; };   // caller indices
layout(std430, binding = 2) buffer Weights { T w[]; };                 // dist2 in, weights out
layout(std430, binding = 3) buffer Keep { uint keep[]; };

layout(push_constant) uniform Push {
  uint rows;
  uint row0;  // the chunk's first row (a row's own index is row0 + its row)
  uint pad0, pad1;
  T a;        // -1 / (2 sigma^2)
} pc;

void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
  if (id >= pc.rows) return;
  uint b = rows[id], e = rows[id + 1], self = pc.row0 + id;
  T sum = T(0);
  bool other = false;
  for (uint j = b; j < e; ++j) {
    T x = EXP(w[j] * pc.a);
    w[j] = x;
    sum += x;
    other = other || index[j] != self;
  }
  bool k = !other || !(sum > T(0));
  keep[id] = k ? 1u : 0u;
  if (k) return;
  T inv = T(1) / sum;
  for (uint j = b; j < e; ++j) w[j] *= inv;
}
