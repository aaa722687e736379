"""The thin ``policy`` command line (imported as ``govsup.cli``)."""
