"""VQA grounding with SATORI-R1's staged rewards (``mmrl/VQAGrounding-v0``)."""

from mmrl.envs.vqa.env import VQAGroundingEnv, model_input_size, satori_response

__all__ = ["VQAGroundingEnv", "model_input_size", "satori_response"]
