"""From a rendered scene to samples: relation labels from geometry, captions and hard negatives, and the
one spec -> observation -> labelled sample path that training data and eval sets share."""
