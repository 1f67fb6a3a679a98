// Token embedding plus positional encoding: x[b,t,:] = wte[token[b,t], :] + pos[t, :], where pos is
// either a learned table (wpe) or the sinusoidal formula of "Attention Is All You Need" §3.5:
// PE(t, 2i) = sin(t / 10000^(2i/C)), PE(t, 2i+1) = cos(t / 10000^(2i/C)).

struct Params { B: u32, T: u32, C: u32, V: u32, learned_positions: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

fn sinusoid(t: u32, c: u32) -> f32 {
  let i2 = f32(c - (c & 1u)); // 2i
  let angle = f32(t) * exp(-log(10000.0) * i2 / f32(p.C));
  return select(sin(angle), cos(angle), (c & 1u) == 1u);
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let c = i % p.C;
  let n = i / p.C;
  let t = n % p.T;
  let token = min(tokens[n], p.V - 1u);
  var pos: f32;
  if (p.learned_positions != 0u) { pos = wpe[t * p.C + c]; } else { pos = sinusoid(t, c); }
  x[i] = wte[token * p.C + c] + pos;
}

// ∇wte[v, :] = Σ over positions holding token v of ∇x. One workgroup per vocabulary row and block of
// 512 channels (grid z): threads take 64 positions at a time, mark which hold v, and then each thread
// sums its channels over the marked positions in order. Deterministic (no float atomics), and tokens are read V·N times, not V·C·N.
@group(0) @binding(1) var<storage, read> bt_tokens: array<u32>;
@group(0) @binding(2) var<storage, read> bt_dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> bt_dwte: array<f32>;

const WG = 64u;
var<workgroup> hits: array<u32, WG>;

@compute @workgroup_size(WG)
fn backward_tokens(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let v = wg.x + wg.y * 65535u;
  if (v >= p.V) { return; }
  let lid = lid3.x;
  let n_total = p.B * p.T;
  // Each thread owns channels c0 + lid, c0 + lid + 64, … of its workgroup's block of 64·8 channels,
  // so the sums stay in registers whatever C is.
  let c0 = wg.z * (8u * WG);
  var acc: array<f32, 8>;
  for (var n0 = 0u; n0 < n_total; n0 += WG) {
    let n = n0 + lid;
    hits[lid] = select(0u, 1u, n < n_total && bt_tokens[min(n, n_total - 1u)] == v);
    workgroupBarrier();
    for (var j = 0u; j < WG; j++) {
      if (hits[j] != 0u) {
        let row = (n0 + j) * p.C;
        for (var k = 0u; k < 8u; k++) {
          let c = c0 + lid + k * WG;
          if (c < p.C) { acc[k] += bt_dx[row + c]; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < 8u; k++) {
    let c = c0 + lid + k * WG;
    if (c < p.C) { bt_dwte[v * p.C + c] = acc[k]; }
  }
}

// ∇wpe[t, :] = Σ_b ∇x[b, t, :].
@group(0) @binding(1) var<storage, read> bp_dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> bp_dwpe: array<f32>;

@compute @workgroup_size(256)
fn backward_positions(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.T * p.C) { return; }
  var s = 0.0;
  for (var b = 0u; b < p.B; b++) { s += bp_dx[b * p.T * p.C + i]; }
  bp_dwpe[i] = s;
}
