"""Engine: bundles, calendar, evaluation and rendering (imported as ``govsup.engine``)."""
