"""The seed's API: `nir.saved_model.compile` (filled in by the Inferentia backend)."""
