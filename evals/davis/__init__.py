"""DAVIS semi-supervised video object segmentation: J, F and J&F as the official DAVIS-2017 evaluation."""
