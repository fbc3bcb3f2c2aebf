"""Salient object detection: MAE, F-measure, S-measure, E-measure and weighted F-measure as PySODMetrics."""
