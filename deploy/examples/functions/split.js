// Splits a video into numbered segments (a stand-in for real work).
export default async function split(input) {
  const count = Number(input.segments ?? 4);
  return {
    video: input.video,
    segments: Array.from({ length: count }, (_, i) => ({ video: input.video, segment: i })),
  };
}
