// One Jacobi pass of the Gaussian smoothing over a chunk of graph rows (included by
// smooth_pass_f32.comp / smooth_pass_f64.comp, which define T). One invocation per
// (row, channel): out = fold over the row, in order, of fmadd(w_j, in_j, .), exactly the
// CPU's sequence (USE_FMA says whether the CPU fuses), under `precise`. A row cut into
// pieces over consecutive chunks (smooth_weights_body.glsl) goes on from the piece
// before: a chunk whose row 0 resumes a row (RESUME) starts its fold from the partial
// sum the previous chunk's dispatch left in vout, so the fold is the uncut row's.
// Values whose one channel is larger than one binding (GATHERED) are read from the
// chunk's gathered values instead (smooth_gather_body.glsl: entry j's neighbour at j,
// then the chunk's own rows), and written to a window of the output from out_base.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool USE_FMA = true;
layout(constant_id = 2) const bool GATHERED = false;

layout(std430, binding = 0) readonly buffer Rows { uint rows[]; };
layout(std430, binding = 1) readonly buffer Index { uint index[]; };
layout(std430, binding = 2) readonly buffer Weights { T w[]; };
layout(std430, binding = 3) readonly buffer Keep { uint keep[]; };
layout(std430, binding = 4) readonly buffer In { T vin[]; };     // all rows, `cols` channels each (GATHERED: entries, then rows)
layout(std430, binding = 5) buffer Out { T vout[]; };            // row row0 + i at out_base + i * cols

layout(push_constant) uniform Push {
  uint rows;
  uint row0;
  uint cols;
  uint flags;     // RESUME
  uint out_base;  // the element of vout where row row0 starts
  uint entries;   // the chunk's entries (GATHERED: where its own rows start in vin)
  uint pad0, pad1;
} pc;

const uint RESUME = 1u;

T fmadd(T a, T b, T c) {
  precise T r;
  if (USE_FMA) r = fma(a, b, c);
  else r = a * b + c;
  return r;
}

void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
  uint i = id / pc.cols, c = id - i * pc.cols;
  if (i >= pc.rows) return;
  uint r = pc.row0 + i, o = pc.out_base + i * pc.cols + c;
  if (keep[i] != 0u) {
    vout[o] = vin[(GATHERED ? pc.entries + i : r) * pc.cols + c];
    return;
  }
  precise T acc = T(0);
  if (i == 0u && (pc.flags & RESUME) != 0u) acc = vout[o];
  for (uint j = rows[i]; j < rows[i + 1]; ++j) acc = fmadd(w[j], vin[(GATHERED ? j : index[j]) * pc.cols + c], acc);
  vout[o] = acc;
}
