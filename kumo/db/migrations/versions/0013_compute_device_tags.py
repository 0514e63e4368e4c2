"""compute device tags (Nova 2.70): a tag on volume attachments, a tag per interface (port)

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compute_volume_attachments') as batch:
        batch.add_column(sa.Column('tag', sa.String(length=60), nullable=True))
    op.create_table('compute_interface_tags',
    sa.Column('port_id', sa.String(length=64), nullable=False),
    sa.Column('server_id', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['compute_servers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id')
    )
    op.create_index(op.f('ix_compute_interface_tags_server_id'), 'compute_interface_tags', ['server_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_compute_interface_tags_server_id'), table_name='compute_interface_tags')
    op.drop_table('compute_interface_tags')
    with op.batch_alter_table('compute_volume_attachments') as batch:
        batch.drop_column('tag')
