"""GTR thought correction: correctors (oracle, OpenAI-compatible endpoint, local HF model), the DAgger buffer,
and the per-step guide that applies them to a batch of episodes."""

from mmrl.correctors.base import Correction, Corrector, thought_of, with_thought
from mmrl.correctors.dagger import Clone, DAggerBuffer
from mmrl.correctors.oracle import OracleCorrector

__all__ = ["Clone", "Correction", "Corrector", "DAggerBuffer", "OracleCorrector", "make_corrector", "thought_of",
           "with_thought"]


def make_corrector(cfg, device: str = "cpu") -> Corrector | None:
    """The corrector named by a `GTRConfig` (None for 'none'); model correctors are imported only when used."""
    if cfg.corrector == "none":
        return None
    if cfg.corrector == "oracle":
        return OracleCorrector()
    if cfg.corrector == "openai":
        from mmrl.correctors.openai_chat import OpenAICorrector

        return OpenAICorrector(cfg.model, cfg.base_url, cfg.api_key_env, cfg.timeout_s, cfg.retries, cfg.temperature)
    if cfg.corrector == "hf":
        from mmrl.correctors.hf_local import HFCorrector

        return HFCorrector(cfg.model, cfg.temperature, cfg.max_new_tokens, device)
    raise ValueError(f"gtr.corrector: unknown corrector {cfg.corrector!r}")
