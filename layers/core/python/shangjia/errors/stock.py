"""Codes of the stock ledger (``shangjia.stock``): why a channel order was refused, and what an
ERP level or a ledger command could not do. A refused order keeps its code and the SKUs it was
short of on its order record (``shangjia stock orders``)."""

from . import CODES, ErrorCode as E

CODES.declare(
    "stock",
    E("STOCK_INSUFFICIENT", "error", "库存不足：{channel} 订单 {order_id} 需要 SKU {value} 共 {wanted} 件，可售 {available} 件，订单未占用库存",
      "Not enough stock: {channel} order {order_id} wants {wanted} of SKU {value}, {available} available; nothing was reserved",
      "请补充库存（ERP 或表格），并在平台上处理该订单（取消或补货后发货）",
      "Restock (through the ERP or a sheet) and handle the order on the platform (cancel it, or ship once restocked)"),
    E("STOCK_UNKNOWN_SKU", "error", "{channel} 订单 {order_id} 中的 SKU {value} 在库存账中不存在，订单未占用库存",
      "SKU {value} of {channel} order {order_id} has no stock level in the ledger; nothing was reserved",
      "请确认平台商品的商家编码与表格中的 SKU 编码一致，并为该 SKU 设置库存",
      "Check that the platform product's SKU code matches the sheet's SKU code, and give the SKU a stock level"),
    E("STOCK_ORDER_UNKNOWN", "warning", "{channel} 订单 {order_id} 未在库存账中登记，无法{action}",
      "{channel} order {order_id} is not in the ledger; it cannot be {action}",
      "平台的下单消息可能尚未到达；对账任务会核对库存", "The platform's order-created push may not have arrived; reconciliation checks the stock"),
    E("STOCK_REFUND_EXCEEDS", "error", "{channel} 订单 {order_id} 的退款 {refund_id}：SKU {value} 退 {wanted} 件，订单（{state}）只剩 {refundable} 件可退，库存未变动",
      "Refund {refund_id} of {channel} order {order_id}: {wanted} of SKU {value} refunded, but the order ({state}) holds only {refundable}; stock unchanged",
      "请核对平台售后单的商品和数量；已全部退款或已取消的订单不会再次入库",
      "Check the after-sale's SKU and count on the platform; a fully refunded or cancelled order is not restocked again"),
    E("STOCK_LEVEL_INVALID", "error", "库存数量 {value} 无效：须为不小于 0 的整数", "Stock level {value} is invalid: a whole number >= 0 is needed",
      "请填写不小于 0 的整数", "Send a whole number of 0 or more"),
    E("STOCK_SEQ_INVALID", "error", "库存更新的序号 {value} 无效：须为整数或 ISO-8601 时间",
      "The stock update's sequence {value} is invalid: an integer or an ISO-8601 timestamp is needed",
      "请用 ERP 的递增序号或更新时间", "Use the ERP's increasing sequence number or its update time"),
)
