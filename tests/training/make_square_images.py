"""Writes the image folder the GAN shell tests train on: 48 PNGs of 16 x 16, a red, green or blue
square of 4-8 px on black, from a fixed seed. usage: make_square_images.py OUT_DIR"""
import os
import random
import sys

from PIL import Image

out = sys.argv[1]
os.makedirs(out)
rng = random.Random(3)
for i in range(48):
    img = Image.new("RGB", (16, 16))
    side = rng.randint(4, 8); x = rng.randint(0, 16 - side); y = rng.randint(0, 16 - side)
    img.paste(rng.choice([(230, 40, 40), (40, 200, 60), (50, 80, 230)]), (x, y, x + side, y + side))
    img.save(os.path.join(out, f"square-{i:03d}.png"))
