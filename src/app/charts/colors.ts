// Line colours by run: distinct, readable on white, and distinguishable for the common colour-vision
// deficiencies (the Okabe–Ito palette, darkened where yellow would be too light on white).
const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#8a6d00', '#56b4e9', '#000000', '#e69f00'];

export function runColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}
