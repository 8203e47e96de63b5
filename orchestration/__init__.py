"""Dagster layer of HieroAction: thin assets, checks, resources, jobs, schedules and sensors that call the
``hieroaction`` library. The library never imports this package (or dagster/dvc); this package only orchestrates."""
