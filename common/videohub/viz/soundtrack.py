"""The source's sound in an annotated video.

The first audio stream of the source is copied packet by packet where the output container holds its codec
and browsers play it (AAC or MP3 in `.mp4`, Opus or Vorbis in `.webm`), else re-encoded (AAC in `.mp4`, Opus in
`.webm`; more than two channels are mixed down to stereo). GIF holds no sound. The sound is shifted by the time
of the video's first picture (which is 0 in the output), what lies before it or past the video's end is left
out, and packets are written as the pictures advance, so the file is interleaved and memory stays small.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional, Union

import av

COPIED = {".mp4": ("aac", "mp3"), ".webm": ("opus", "vorbis")}
ENCODER = {".mp4": "aac", ".webm": "libopus"}
OPUS_RATE = 48000  # libopus encodes 48, 24, 16, 12 or 8 kHz only


class Soundtrack:
    """Audio of `source` muxed into `container` (whose video stream is already added, nothing written yet).
    `start`: the source time of the first picture (s); `end`: the output's length (s), None: not yet known.
    `description` says what happened: copied, encoded, or why there is none."""

    def __init__(self, container: av.container.OutputContainer, suffix: str, source: Union[str, Path],
                 start: float):
        self.description = "none (the source has no sound)"
        self._container = container
        self._source = None
        self._out = None
        self._pending = None   # the next packet not muxed yet
        suffix = suffix.lower()
        if suffix not in ENCODER:
            self.description = f"none ({suffix[1:].upper()} holds no sound)"
            return
        source_container = av.open(str(source))
        if not source_container.streams.audio:
            source_container.close()
            return
        self._source = source_container
        self._in = source_container.streams.audio[0]
        name = self._in.codec_context.codec.canonical_name  # "mp3", not the decoder's "mp3float"
        self._copy = name in COPIED[suffix]
        if self._copy:
            self._out = container.add_stream_from_template(self._in)
            self.description = f"copied ({name})"
        else:
            self._out = self._encoder_stream(suffix)
            self.description = f"encoded ({self._out.codec_context.name} from {name})"
        self._offset = start
        self._packets: Iterator[av.Packet] = source_container.demux(self._in)

    def _encoder_stream(self, suffix: str) -> av.audio.stream.AudioStream:
        ctx = self._in.codec_context
        rate = OPUS_RATE if ENCODER[suffix] == "libopus" else ctx.sample_rate
        stream = self._container.add_stream(ENCODER[suffix], rate=rate)
        stream.layout = "mono" if ctx.channels == 1 else "stereo"  # by count: a source may name no layout
        return stream

    def _next_packet(self) -> Optional[av.Packet]:
        for packet in self._packets:
            if packet.pts is not None and packet.size:
                return packet
        return None

    def _seconds(self, packet: av.Packet) -> float:
        return float(packet.pts * packet.time_base) - self._offset

    def mux_until(self, seconds: float) -> None:
        """Write the sound that starts before `seconds` of the output."""
        if self._out is None:
            return
        while True:
            if self._pending is None:
                self._pending = self._next_packet()
                if self._pending is None:
                    return
            t = self._seconds(self._pending)
            if t >= seconds:
                return
            packet, self._pending = self._pending, None
            if t < 0:  # before the first picture
                continue
            self._write(packet, t)

    def _write(self, packet: av.Packet, t: float) -> None:
        if self._copy:
            packet.pts -= int(round(self._offset / packet.time_base))
            packet.dts = packet.pts if packet.dts is None else packet.dts - int(round(self._offset / packet.time_base))
            packet.stream = self._out
            self._container.mux(packet)
            return
        rate = self._out.codec_context.sample_rate
        for frame in self._in.codec_context.decode(packet):
            ft = t if frame.pts is None else float(frame.pts * frame.time_base) - self._offset
            if ft < 0:
                continue
            frame.pts, frame.time_base = int(round(ft * rate)), Fraction(1, rate)
            for out_packet in self._out.encode(frame):
                self._container.mux(out_packet)

    def finish(self, end: float) -> None:
        """Write the rest of the sound up to `end` seconds (the video's length), flush the encoder, close."""
        try:
            self.mux_until(end)
            if self._out is not None and not self._copy:
                for out_packet in self._out.encode(None):
                    self._container.mux(out_packet)
        finally:
            self.close()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
