// Gathers the values a chunk of graph rows reads, for values whose one channel is larger
// than one binding (included by smooth_gather_f32.comp / smooth_gather_f64.comp, which
// define T). The values of all rows cannot be bound at once, so they are bound a block of
// rows at a time, and each dispatch copies, for every entry of the chunk whose neighbour
// lies in the block, that neighbour's values to the entry's place in Gathered (then the
// chunk's own rows, after the entries: the values `keep` rows keep). The pass then reads
// Gathered in entry order (smooth_pass_body.glsl, GATHERED): the same values, in the same
// order, as from the whole array. One invocation per (entry or own row, channel).
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Index { uint index[]; };  // the chunk's entries
layout(std430, binding = 1) readonly buffer Block { T block[]; };     // rows [first, last), `cols` each, from `base`
layout(std430, binding = 2) buffer Gathered { T gathered[]; };        // entries + rows, `cols` each

layout(push_constant) uniform Push {
  uint entries;
  uint rows;
  uint row0;   // the chunk's first row
  uint cols;
  uint first;  // the block's rows
  uint last;
  uint base;   // the element of Block where row `first` starts
  uint pad0;
} pc;

void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
  uint k = id / pc.cols, c = id - k * pc.cols;
  if (k >= pc.entries + pc.rows) return;
  uint src = k < pc.entries ? index[k] : pc.row0 + (k - pc.entries);
  if (src < pc.first || src >= pc.last) return;
  gathered[k * pc.cols + c] = block[pc.base + (src - pc.first) * pc.cols + c];
}
