"""GTR thought correction: correctors (oracle, OpenAI-compatible endpoint, local HF model), the DAgger buffer,
and the per-step guide that applies them to a batch of episodes."""

from mmrl.correctors.base import Correction, Corrector, check_formats
from mmrl.correctors.dagger import Clone, DAggerBuffer
from mmrl.correctors.oracle import OracleCorrector
from mmrl.formats import ResponseFormat

__all__ = ["Clone", "Correction", "Corrector", "DAggerBuffer", "OracleCorrector", "check_formats", "make_corrector"]


def make_corrector(cfg, device: str = "cpu", formats: dict[str, ResponseFormat] | None = None,
                   rollout=None) -> Corrector | None:
    """The corrector named by a `GTRConfig` (None for 'none'); model correctors are imported only when used.
    `formats` (env name -> response format) are checked first: every env must have thoughts to correct. A local
    model corrector generates through `rollout`'s backend (a `RolloutConfig`; None: transformers)."""
    if cfg.corrector == "none":
        return None
    if formats is not None:
        check_formats(formats)
    if cfg.corrector == "oracle":
        return OracleCorrector()
    if cfg.corrector == "openai":
        from mmrl.correctors.openai_chat import OpenAICorrector

        return OpenAICorrector(cfg.model, cfg.base_url, cfg.api_key_env, cfg.timeout_s, cfg.retries, cfg.temperature,
                               send_image=cfg.send_image)
    if cfg.corrector == "hf":
        from mmrl.correctors.hf_local import HFCorrector

        return HFCorrector(cfg.model, cfg.temperature, cfg.max_new_tokens, device, rollout)
    raise ValueError(f"gtr.corrector: unknown corrector {cfg.corrector!r}")
