"""The course's judges: small networks trained on real images that score what a generator makes.

The papers score generated images with networks trained on real data (the Inception network behind
IS and FID; an FCN segmenter for Pix2Pix and SPADE). The course does the same with small networks,
one file per dataset, each trained by a recipe and shipped in ``data/`` (checksums and test scores
in ``data/MANIFEST.json``), with the course's scores of generated images beside its judge:

===============  =========================================  ========================================
file             judge (loader)                             scores of generated images
===============  =========================================  ========================================
``digits``       digit classifier (``digit_classifier``)    accuracy; the features of the Fréchet
                                                            distance (:mod:`gancourse.metrics`)
``shapes``       attribute classifier                       outline IoU, colour shift, the scores of
                 (``attribute_classifier``)                 CycleGAN's and StarGAN's translations
``scenes``       segmenter (``scene_segmenter``)            mIoU of images against their maps
``defects``      defect classifier (``defect_classifier``)  accuracy per class
``styled``       styled-digit classifier                    (notebook 15: ``models.deepi2i.evaluate``)
                 (``styled_digit_classifier``)
===============  =========================================  ========================================

:mod:`.fitting` holds what they share: the training loop, batched prediction, loading.

    clf = judges.digit_classifier()             # shipped weights, checksum verified, eval mode, frozen
"""
from . import defects, digits, scenes, shapes, styled
from .defects import defect_classifier
from .digits import digit_classifier
from .scenes import scene_segmenter
from .shapes import attribute_classifier
from .styled import styled_digit_classifier

__all__ = ["defects", "digits", "scenes", "shapes", "styled", "defect_classifier", "digit_classifier",
           "scene_segmenter", "attribute_classifier", "styled_digit_classifier"]
