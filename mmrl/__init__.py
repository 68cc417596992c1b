"""mmrl: RL from verifiable rewards for VLM agents and text LLMs."""

__version__ = "0.1.0"
