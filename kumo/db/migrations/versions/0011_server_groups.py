"""compute server groups and their members

Revision ID: 0011
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compute_server_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('policy', sa.String(length=32), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_compute_server_groups_project_id'), 'compute_server_groups', ['project_id'])
    op.create_table('compute_server_group_members',
    sa.Column('server_id', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('placed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['compute_server_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['server_id'], ['compute_servers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('server_id')
    )
    op.create_index(op.f('ix_compute_server_group_members_group_id'), 'compute_server_group_members', ['group_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_compute_server_group_members_group_id'), table_name='compute_server_group_members')
    op.drop_table('compute_server_group_members')
    op.drop_index(op.f('ix_compute_server_groups_project_id'), table_name='compute_server_groups')
    op.drop_table('compute_server_groups')
