"""indexes on ports' binding host and device owner (the network agent reads its host's ports by them)

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-26
"""
from alembic import op


revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_network_ports_binding_host_id'), 'network_ports', ['binding_host_id'])
    op.create_index(op.f('ix_network_ports_device_owner'), 'network_ports', ['device_owner'])


def downgrade() -> None:
    op.drop_index(op.f('ix_network_ports_device_owner'), table_name='network_ports')
    op.drop_index(op.f('ix_network_ports_binding_host_id'), table_name='network_ports')
