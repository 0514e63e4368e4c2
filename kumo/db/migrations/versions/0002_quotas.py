"""quotas

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quota_limits',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource')
    )
    op.create_table('quota_usages',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('in_use', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource')
    )


def downgrade() -> None:
    op.drop_table('quota_usages')
    op.drop_table('quota_limits')
