"""What the modules do, as plain Python over a predictor (no PaddleHub): usable from scripts and batch jobs.

* `items.py` — the one input-item type and how call arguments become items;
* `classification.py` — video classification: batch pipeline, sliding windows, streams;
* `sequence.py` — feature-sequence classification (VideoTag, YouTube-8M) and frame-feature extraction;
* `proposals.py` — temporal action proposals (BMN): features, extractors, post-processing, outputs;
* `windows.py` — sliding windows over files and streams; `scores.py` — probabilities and top-k;
* `decoding.py` — an item to network inputs (the work of the decode threads or worker processes);
* `concurrency.py` — ordered bounded map over threads or processes, prefetching, stage timings, progress bars.
"""
