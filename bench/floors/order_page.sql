-- Order page: the order, its customer and its lines with their products.
SELECT o.*, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.number = ':order_number';
SELECT l.*, p.sku, p.name FROM order_lines l JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id WHERE o.number = ':order_number' ORDER BY l.id;
