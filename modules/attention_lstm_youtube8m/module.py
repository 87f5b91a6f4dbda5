"""attention_lstm_youtube8m: YouTube-8M multi-label classification with PaddleVideo's AttentionLSTM. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import FeatureClassifierModule


@moduleinfo(
    name="attention_lstm_youtube8m",
    version="2.0.0",
    summary="AttentionLSTM (PaddleVideo), YouTube-8M rgb+audio features, 3862 classes, sigmoid scores",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=FeatureClassifierModule,
)
class AttentionLSTMYouTube8M:
    """`classify(features=[{"rgb": [T,1024], "audio": [T,128]}], paths=["x.pkl"], top_k=20, threshold=0.0)`."""
