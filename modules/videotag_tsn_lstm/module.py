"""videotag_tsn_lstm: VideoTag (TSN ResNet-101 frame features + AttentionLSTM), 3396 Chinese tags.
Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoSequenceModule


@moduleinfo(
    name="videotag_tsn_lstm",
    version="2.0.0",
    summary="VideoTag: TSN ResNet-101 features of 300 frames + AttentionLSTM, 3396 Chinese tags (multi-label)",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoSequenceModule,
)
class VideoTagTSNLSTM:
    """`classify(paths, use_gpu=False, threshold=0.5, top_k=10)`, `extract_features(paths)`,
    `hub run videotag_tsn_lstm --input_path x.mp4`."""

    default_top_k = 10
    default_threshold = 0.5
