// Transcodes one segment: returns its bytes as a Buffer alongside the metadata.
export default async function transcode(segment, ctx) {
  const bytes = Buffer.alloc(1024, segment.segment);
  return { ...segment, attempt: ctx.attempt, bytes };
}
