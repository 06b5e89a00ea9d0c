"""AST (thesis chapter 6): asymmetric student-teacher networks, a flow teacher and a CNN student."""

from vision.ast.model import AST

__all__ = ["AST"]
