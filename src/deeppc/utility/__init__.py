"""The utility stage: classifiers trained on real, real + augmented, real + synthetic and synthetic-only
images, tested on real held-out patients, compared with classifier seeds as the unit."""
