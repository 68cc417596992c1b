"""Qwen2.5-VL processor without a video processor.

transformers' `Qwen2_5_VLProcessor` insists on a video processor, which needs torchvision; torchvision does not
import beside the CPU torch build we pin. mmrl feeds images only, so the processor is built with
`video_processor=None`. It loads real checkpoints' image-processor and tokenizer files unchanged.
"""

from __future__ import annotations

import json
import os

from transformers import AutoTokenizer, Qwen2_5_VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

VIDEO_CONFIG = "video_preprocessor_config.json"


class VLProcessor(Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` that accepts a missing video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, video_processor=None, chat_template=chat_template, **kwargs)

    def check_argument_for_proper_class(self, argument_name, argument):  # video_processor may be None
        if argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)

    def save_pretrained(self, save_directory, **kwargs):
        """Save as usual, plus a video-processor config with the image settings: engines that load the full
        Qwen2.5-VL processor from the folder (vLLM) require one, even for image-only prompts."""
        out = super().save_pretrained(save_directory, **kwargs)
        image = self.image_processor
        video = {
            "video_processor_type": "Qwen2VLVideoProcessor", "processor_class": "Qwen2_5_VLProcessor",
            "patch_size": image.patch_size, "temporal_patch_size": image.temporal_patch_size,
            "merge_size": image.merge_size, "image_mean": list(image.image_mean), "image_std": list(image.image_std),
            "size": dict(image.size), "do_resize": True, "do_rescale": True, "do_normalize": True,
        }
        with open(os.path.join(save_directory, VIDEO_CONFIG), "w", encoding="utf-8") as fh:
            json.dump(video, fh, indent=2)
        return out

    @classmethod
    def load(cls, path: str, min_pixels: int | None = None, max_pixels: int | None = None) -> VLProcessor:
        """Load the image processor and tokenizer saved in `path` (a real Qwen2.5-VL checkpoint or ours)."""
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
        if min_pixels is not None and max_pixels is not None:
            _set_pixels(image_processor, min_pixels, max_pixels)
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        return cls(image_processor=image_processor, tokenizer=tokenizer)


def make_image_processor(min_pixels: int, max_pixels: int) -> Qwen2VLImageProcessorPil:
    """Qwen2.5-VL's image preprocessing (14 px patches, 2x2 merge, CLIP normalisation) with the given area bounds."""
    processor = Qwen2VLImageProcessorPil(
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    _set_pixels(processor, min_pixels, max_pixels)
    return processor


def _set_pixels(processor: Qwen2VLImageProcessorPil, min_pixels: int, max_pixels: int) -> None:
    processor.size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
