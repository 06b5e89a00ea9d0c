"""The configuration of each method: the thesis' hyperparameters, validated at the boundary.

A config travels inside the model file, so a loaded model is rebuilt exactly as trained.
Where a default departs from the thesis to fit a 2-core CPU, the field says so.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vision.backbone import DEFAULT_ARCH


class _MethodConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(384, ge=32, description="images are resized to image_size × image_size")
    backbone: str = DEFAULT_ARCH
    feature_stride: Literal[8, 16, 32] = 32
    alpha: float = Field(3.0, gt=0, description="soft clamp of the coupling scales")
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(2e-4, gt=0)

    @model_validator(mode="after")
    def _size_fits_stride(self) -> _MethodConfig:
        if self.image_size % self.feature_stride:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of the feature stride {self.feature_stride}"
            )
        return self


class DifferNetConfig(_MethodConfig):
    """DifferNet (thesis §4): pooled multi-scale features, 8 fully connected couplings."""

    method: Literal["differnet"] = "differnet"
    n_scales: int = Field(3, ge=1)
    n_coupling_blocks: int = 8
    hidden: int = Field(2048, description="width of the fully connected subnetworks (DifferNet: 2048)")
    epochs: int = Field(16, ge=1, description="thesis: 192; fewer here because every epoch runs the backbone")
    batch_size: int = 24
    train_transforms: int = Field(4, ge=1, description="randomly transformed copies of each training image")
    test_transforms: int = Field(8, ge=1, description="fixed rotations averaged at test time (thesis: 64)")
    rotation: float = Field(
        180.0, ge=0, le=180, description="random rotations in ±rotation degrees; 0 = none"
    )
    brightness: float = Field(0.0, ge=0, lt=1, description="colour jitter for textures (DifferNet: 0.1)")
    contrast: float = Field(0.0, ge=0, lt=1)
    saturation: float = Field(0.0, ge=0, lt=1)
    map_sigma: float = Field(4.0, ge=0, description="Gaussian blur of the gradient map, in pixels")

    @model_validator(mode="after")
    def _smallest_scale_has_features(self) -> DifferNetConfig:
        if self.image_size >> (self.n_scales - 1) < self.feature_stride:
            raise ValueError(
                f"image_size {self.image_size} is too small for {self.n_scales} scales "
                f"at stride {self.feature_stride}"
            )
        return self


class CSFlowConfig(_MethodConfig):
    """CS-Flow (thesis §5): three-scale feature maps, cross-scale convolutional couplings."""

    method: Literal["csflow"] = "csflow"
    n_coupling_blocks: int = 4
    hidden: int = Field(
        256,
        description="channels of the cross-convolutions (thesis: 1024); "
        "256 keeps a 2-core CPU above 3 frames/s at 384 px",
    )
    kernel_sizes: list[int] = Field(default_factory=lambda: [3, 3, 3, 5])
    leaky_slope: float = 0.1
    epochs: int = Field(40, ge=1, description="thesis: 240 at lr 2e-4; fewer, larger steps fit a CPU budget")
    batch_size: int = 16
    lr: float = Field(1e-3, gt=0)
    clip_grad_norm: float = 1.0

    @model_validator(mode="after")
    def _check(self) -> CSFlowConfig:
        if len(self.kernel_sizes) != self.n_coupling_blocks:
            raise ValueError(
                f"{len(self.kernel_sizes)} kernel sizes for {self.n_coupling_blocks} coupling blocks"
            )
        if self.image_size % (4 * self.feature_stride):
            raise ValueError(
                f"image_size {self.image_size} must be a multiple of {4 * self.feature_stride} "
                f"(three image scales at feature stride {self.feature_stride})"
            )
        return self


class ASTConfig(_MethodConfig):
    """AST (thesis §6): a conditional flow teacher and a residual convolutional student."""

    method: Literal["ast"] = "ast"
    n_coupling_blocks: int = 4
    teacher_hidden: int = 64
    kernel_sizes: list[int] = Field(default_factory=lambda: [3, 3, 3, 5])
    pos_enc_dim: int = Field(32, description="channels of the 2-D sinusoidal positional encoding")
    student_hidden: int = Field(512, description="channels of the student (thesis: 1024)")
    student_blocks: int = 4
    epochs: int = Field(40, ge=1, description="epochs of the teacher and then of the student (thesis: 240)")
    batch_size: int = 8
    use_depth: bool = Field(
        False, description="append the depth map (height above the background plane) as input"
    )
    foreground_mask: bool = Field(
        False, description="train and score only where the depth map shows an object"
    )
    depth_scale: float = Field(0.05, gt=0, description="metres of height that map to 1 at the input")
    foreground_height: float = Field(
        0.005, gt=0, description="metres above the background plane that count as object"
    )

    @model_validator(mode="after")
    def _check(self) -> ASTConfig:
        if len(self.kernel_sizes) != self.n_coupling_blocks:
            raise ValueError(
                f"{len(self.kernel_sizes)} kernel sizes for {self.n_coupling_blocks} coupling blocks"
            )
        if self.pos_enc_dim % 4:
            raise ValueError(f"pos_enc_dim must be a multiple of 4, got {self.pos_enc_dim}")
        return self

    @property
    def needs_depth(self) -> bool:
        return self.use_depth or self.foreground_mask


MethodConfig = Annotated[DifferNetConfig | CSFlowConfig | ASTConfig, Field(discriminator="method")]
METHODS: dict[str, type[DifferNetConfig | CSFlowConfig | ASTConfig]] = {
    "differnet": DifferNetConfig,
    "csflow": CSFlowConfig,
    "ast": ASTConfig,
}
