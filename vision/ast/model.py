"""AST: asymmetric student-teacher networks on one feature map (stride 32 by default).

The teacher is trained first, by likelihood; then the student is trained to reproduce the
teacher's output z on normal images. On anomalies the student's prediction and the teacher's
output disagree; that distance is the anomaly map. Depth, when used, enters as extra input
channels (the height map at a quarter of the image resolution, folded into the feature grid)
and gives the foreground mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vision.ast.foreground import foreground_mask, height_above_background
from vision.ast.loss import student_loss, teacher_loss
from vision.ast.maps import ast_map, ast_score, distance_map
from vision.ast.posenc import positional_encoding_2d
from vision.ast.student import Student
from vision.ast.teacher import build_teacher
from vision.backbone import Backbone
from vision.config import ASTConfig
from vision.detector import Detector, Embedding, Prediction, TrainStage


class AST(Detector):
    method = "ast"
    pos_enc: Tensor  # buffer, (1, pos_enc_dim, side, side)

    def __init__(self, config: ASTConfig, backbone: Backbone) -> None:
        super().__init__(config, backbone)
        c = config
        side = c.image_size // c.feature_stride
        # Depth at a quarter of the image resolution, folded (pixel-unshuffle) onto the feature grid.
        self.depth_fold = c.feature_stride // 4
        channels = backbone.channels[c.feature_stride] + (self.depth_fold**2 if c.use_depth else 0)
        self.register_buffer("pos_enc", positional_encoding_2d(c.pos_enc_dim, side, side), persistent=False)
        self.teacher = build_teacher(
            channels, c.n_coupling_blocks, c.teacher_hidden, c.kernel_sizes, c.alpha, c.pos_enc_dim
        )
        self.student = Student(channels + c.pos_enc_dim, channels, c.student_hidden, c.student_blocks)

    @property
    def needs_depth(self) -> bool:
        return self.config.needs_depth

    def embed(self, images: Tensor, depth: Tensor | None = None) -> Embedding:
        c = self.config
        self.check_depth(depth)
        (features,) = self.backbone(images, [c.feature_stride])
        h, w = features.shape[-2:]
        if depth is None:  # check_depth: only a model without depth gets here without one
            return {"features": features, "foreground": features.new_ones(len(features), h, w)}
        heights = height_above_background(depth)
        parts = [features]
        if c.use_depth:
            small = F.interpolate(heights, size=(h * self.depth_fold, w * self.depth_fold), mode="area")
            parts.append(F.pixel_unshuffle(small / c.depth_scale, self.depth_fold))
        if c.foreground_mask:
            fg = foreground_mask(heights, c.foreground_height, (h, w))
        else:
            fg = features.new_ones(len(features), h, w)
        return {"features": torch.cat(parts, dim=1), "foreground": fg}

    def _cond(self, n: int) -> Tensor:
        return self.pos_enc.expand(n, -1, -1, -1)

    def _teacher(self, features: Tensor) -> tuple[Tensor, Tensor]:
        (z,), (logdet,) = self.teacher([features], self._cond(len(features)))
        return z, logdet

    def stages(self) -> list[TrainStage]:
        c = self.config
        return [
            TrainStage("teacher", list(self.teacher.parameters()), c.epochs, c.lr),
            TrainStage("student", list(self.student.parameters()), c.epochs, c.lr, frozen=[self.teacher]),
        ]

    def loss(self, embedding: Embedding, stage: str) -> Tensor:
        features, fg = embedding["features"], embedding["foreground"]
        if stage == "teacher":
            return teacher_loss(*self._teacher(features), fg)
        with torch.no_grad():
            target, _ = self._teacher(features)
        return student_loss(self.student(features, self._cond(len(features))), target, fg)

    def forward(self, images: Tensor, depth: Tensor | None = None) -> Prediction:
        embedding = self.embed(images, depth)
        features = embedding["features"]
        target, _ = self._teacher(features)
        distance = distance_map(self.student(features, self._cond(len(features))), target)
        fg = embedding["foreground"] if self.config.foreground_mask else None
        return Prediction(ast_score(distance, fg), ast_map(distance, fg, self.config.image_size))
