"""Recognition: the vision engine combined with the stored gallery (enrol, identify, evaluate)."""
