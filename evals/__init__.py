"""Zero-shot evaluation tasks, one plugin (sub-package) per task."""
