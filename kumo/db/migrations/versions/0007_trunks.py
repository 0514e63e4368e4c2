"""trunk ports: trunks and their subports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_trunks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('port_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('port_id')
    )
    with op.batch_alter_table('network_trunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_trunks_project_id'), ['project_id'], unique=False)

    op.create_table('network_trunk_subports',
    sa.Column('port_id', sa.String(length=64), nullable=False),
    sa.Column('trunk_id', sa.String(length=64), nullable=False),
    sa.Column('segmentation_type', sa.String(length=16), nullable=False),
    sa.Column('segmentation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['network_ports.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['trunk_id'], ['network_trunks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id'),
    sa.UniqueConstraint('trunk_id', 'segmentation_type', 'segmentation_id')
    )
    with op.batch_alter_table('network_trunk_subports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_trunk_subports_trunk_id'), ['trunk_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('network_trunk_subports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_trunk_subports_trunk_id'))

    op.drop_table('network_trunk_subports')
    with op.batch_alter_table('network_trunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_trunks_project_id'))

    op.drop_table('network_trunks')
