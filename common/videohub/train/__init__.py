"""Fine-tuning and evaluation: `trainer.py` (configs, training loop, export as a module), `datasets.py`,
`augment.py` (training-time sampling and crops) and `metrics.py` (classification, YouTube-8M, proposals)."""
