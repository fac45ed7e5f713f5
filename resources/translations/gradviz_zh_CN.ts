<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>BusyOverlay</name>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>Caption</name>
    <message>
        <source>pass {0} of {1}:  {2}</source>
        <translation>第 {0} 次反向传播（共 {1} 次）：{2}</translation>
    </message>
    <message>
        <source>before backward: nothing has run yet (1 step to replay)</source>
        <translation>反向传播之前：还没有节点运行（共 1 步可回放）</translation>
    </message>
    <message>
        <source>before backward: nothing has run yet ({0} steps to replay)</source>
        <translation>反向传播之前：还没有节点运行（共 {0} 步可回放）</translation>
    </message>
    <message>
        <source>step {0} of {1}</source>
        <translation>第 {0} 步（共 {1} 步）</translation>
    </message>
    <message>
        <source>step {0} of {1}:  {2}.grad accumulated</source>
        <translation>第 {0} 步（共 {1} 步）：{2}.grad 已累加</translation>
    </message>
    <message>
        <source>step {0} of {1}:  {2} computed the gradients of its inputs</source>
        <translation>第 {0} 步（共 {1} 步）：{2} 算出了其输入的梯度</translation>
    </message>
</context>
<context>
    <name>DerivativeRule</name>
    <message>
        <source>leaf.grad += grad  (gradients from every use of the leaf add up)</source>
        <translation>leaf.grad += grad  （叶子节点每一次被使用时传回的梯度都会累加）</translation>
    </message>
    <message>
        <source>grad_self = grad,  grad_other = grad · alpha  (summed over broadcast dims)</source>
        <translation>grad_self = grad,  grad_other = grad · alpha  （在广播的维度上求和）</translation>
    </message>
    <message>
        <source>grad_self = grad  (adding a constant does not change the gradient)</source>
        <translation>grad_self = grad  （加上常数不改变梯度）</translation>
    </message>
    <message>
        <source>grad_self = grad,  grad_other = −grad · alpha</source>
        <translation>grad_self = grad,  grad_other = −grad · alpha</translation>
    </message>
    <message>
        <source>grad_self = grad  (subtracting a constant does not change the gradient)</source>
        <translation>grad_self = grad  （减去常数不改变梯度）</translation>
    </message>
    <message>
        <source>grad_self = −grad · alpha,  grad_other = grad</source>
        <translation>grad_self = −grad · alpha,  grad_other = grad</translation>
    </message>
    <message>
        <source>grad_self = −grad · alpha</source>
        <translation>grad_self = −grad · alpha</translation>
    </message>
    <message>
        <source>grad_self = grad · other,  grad_other = grad · self</source>
        <translation>grad_self = grad · other,  grad_other = grad · self</translation>
    </message>
    <message>
        <source>grad_self = grad · other  (other is a constant)</source>
        <translation>grad_self = grad · other  （other 是常数）</translation>
    </message>
    <message>
        <source>grad_self = grad / other,  grad_other = −grad · self / other²</source>
        <translation>grad_self = grad / other,  grad_other = −grad · self / other²</translation>
    </message>
    <message>
        <source>grad_self = grad / other  (other is a constant)</source>
        <translation>grad_self = grad / other  （other 是常数）</translation>
    </message>
    <message>
        <source>grad_self = grad · exponent · self^(exponent − 1)</source>
        <translation>grad_self = grad · exponent · self^(exponent − 1)</translation>
    </message>
    <message>
        <source>grad_self = grad · exponent · self^(exponent − 1),  grad_exponent = grad · result · ln(self)</source>
        <translation>grad_self = grad · exponent · self^(exponent − 1),  grad_exponent = grad · result · ln(self)</translation>
    </message>
    <message>
        <source>grad_exponent = grad · result · ln(self)  (constant base)</source>
        <translation>grad_exponent = grad · result · ln(self)  （底数是常数）</translation>
    </message>
    <message>
        <source>grad_self = grad · tensor,  grad_tensor = grad · self</source>
        <translation>grad_self = grad · tensor,  grad_tensor = grad · self</translation>
    </message>
    <message>
        <source>grad_self = grad expanded to self&apos;s shape  (every element gets the same grad)</source>
        <translation>grad_self = grad 扩展成 self 的形状  （每个元素得到相同的梯度）</translation>
    </message>
    <message>
        <source>grad_self = grad unsqueezed at dim and expanded to self&apos;s shape</source>
        <translation>grad_self = grad 在 dim 处 unsqueeze 后扩展成 self 的形状</translation>
    </message>
    <message>
        <source>grad_self = grad expanded to self&apos;s shape / numel</source>
        <translation>grad_self = grad 扩展成 self 的形状 / numel</translation>
    </message>
    <message>
        <source>grad_self = grad expanded along dim / size of dim</source>
        <translation>grad_self = grad 沿 dim 扩展 / dim 的长度</translation>
    </message>
    <message>
        <source>grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad</source>
        <translation>grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad</translation>
    </message>
    <message>
        <source>grad_self = grad @ otherᵀ,  grad_other = selfᵀ @ grad</source>
        <translation>grad_self = grad @ otherᵀ,  grad_other = selfᵀ @ grad</translation>
    </message>
    <message>
        <source>grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad  (per batch)</source>
        <translation>grad_self = grad @ mat2ᵀ,  grad_mat2 = selfᵀ @ grad  （逐批次）</translation>
    </message>
    <message>
        <source>grad_self = grad ⊗ vec  (outer product),  grad_vec = selfᵀ @ grad</source>
        <translation>grad_self = grad ⊗ vec  （外积）,  grad_vec = selfᵀ @ grad</translation>
    </message>
    <message>
        <source>grad_self = grad · beta,  grad_mat1 = grad @ mat2ᵀ · alpha,  grad_mat2 = mat1ᵀ @ grad · alpha</source>
        <translation>grad_self = grad · beta,  grad_mat1 = grad @ mat2ᵀ · alpha,  grad_mat2 = mat1ᵀ @ grad · alpha</translation>
    </message>
    <message>
        <source>grad_self = grad · result  (d/dx eˣ = eˣ)</source>
        <translation>grad_self = grad · result  （d/dx eˣ = eˣ）</translation>
    </message>
    <message>
        <source>grad_self = grad / self</source>
        <translation>grad_self = grad / self</translation>
    </message>
    <message>
        <source>grad_self = grad / (1 + self)</source>
        <translation>grad_self = grad / (1 + self)</translation>
    </message>
    <message>
        <source>grad_self = grad / (2 · result)</source>
        <translation>grad_self = grad / (2 · result)</translation>
    </message>
    <message>
        <source>grad_self = −grad · result³ / 2</source>
        <translation>grad_self = −grad · result³ / 2</translation>
    </message>
    <message>
        <source>grad_self = −grad · result²</source>
        <translation>grad_self = −grad · result²</translation>
    </message>
    <message>
        <source>grad_self = grad · (1 − result²)</source>
        <translation>grad_self = grad · (1 − result²)</translation>
    </message>
    <message>
        <source>grad_self = grad · result · (1 − result)</source>
        <translation>grad_self = grad · result · (1 − result)</translation>
    </message>
    <message>
        <source>grad_self = grad · (result &gt; 0)</source>
        <translation>grad_self = grad · (result &gt; 0)</translation>
    </message>
    <message>
        <source>grad_self = grad · (1 if self &gt; 0 else negative_slope)</source>
        <translation>grad_self = grad · (self &gt; 0 时为 1，否则为 negative_slope)</translation>
    </message>
    <message>
        <source>grad_self = grad · gelu′(self)</source>
        <translation>grad_self = grad · gelu′(self)</translation>
    </message>
    <message>
        <source>grad_self = grad · σ(self) · (1 + self · (1 − σ(self)))</source>
        <translation>grad_self = grad · σ(self) · (1 + self · (1 − σ(self)))</translation>
    </message>
    <message>
        <source>grad_self = grad · σ(beta · self)</source>
        <translation>grad_self = grad · σ(beta · self)</translation>
    </message>
    <message>
        <source>grad_self = grad · cos(self)</source>
        <translation>grad_self = grad · cos(self)</translation>
    </message>
    <message>
        <source>grad_self = −grad · sin(self)</source>
        <translation>grad_self = −grad · sin(self)</translation>
    </message>
    <message>
        <source>grad_self = grad · sign(self)</source>
        <translation>grad_self = grad · sign(self)</translation>
    </message>
    <message>
        <source>grad_self = −grad</source>
        <translation>grad_self = −grad</translation>
    </message>
    <message>
        <source>grad_self = grad</source>
        <translation>grad_self = grad</translation>
    </message>
    <message>
        <source>grad_self = gradᵀ</source>
        <translation>grad_self = gradᵀ</translation>
    </message>
    <message>
        <source>grad_self = grad transposed back (dim0 ↔ dim1)</source>
        <translation>grad_self = grad 转置回去 （dim0 ↔ dim1）</translation>
    </message>
    <message>
        <source>grad_self = grad permuted back by the inverse permutation</source>
        <translation>grad_self = grad 按逆置换排列回去</translation>
    </message>
    <message>
        <source>grad_self = grad.view(self&apos;s shape)  (same numbers, old shape)</source>
        <translation>grad_self = grad.view(self 的形状)  （数值不变，恢复原形状）</translation>
    </message>
    <message>
        <source>grad_self = grad.reshape(self&apos;s shape)</source>
        <translation>grad_self = grad.reshape(self 的形状)</translation>
    </message>
    <message>
        <source>grad_self = grad summed over the expanded dims  (back to self&apos;s shape)</source>
        <translation>grad_self = grad 在扩展出的维度上求和  （回到 self 的形状）</translation>
    </message>
    <message>
        <source>grad_self = grad unsqueezed back to self&apos;s shape</source>
        <translation>grad_self = grad unsqueeze 回 self 的形状</translation>
    </message>
    <message>
        <source>grad_self = grad.unsqueeze(dim)</source>
        <translation>grad_self = grad.unsqueeze(dim)</translation>
    </message>
    <message>
        <source>grad_self = grad.squeeze(dim)</source>
        <translation>grad_self = grad.squeeze(dim)</translation>
    </message>
    <message>
        <source>grad_self = zeros with grad written at [index] along dim</source>
        <translation>grad_self = 全零张量，沿 dim 在 [index] 处写入 grad</translation>
    </message>
    <message>
        <source>grad_self = zeros with grad written into the slice</source>
        <translation>grad_self = 全零张量，把 grad 写入切片位置</translation>
    </message>
    <message>
        <source>grad_self = zeros with grad added at the indexed positions</source>
        <translation>grad_self = 全零张量，在索引到的位置加上 grad</translation>
    </message>
    <message>
        <source>grad_tensors[i] = the slice of grad that tensor i filled</source>
        <translation>grad_tensors[i] = grad 中由第 i 个张量填充的那一段</translation>
    </message>
    <message>
        <source>grad_tensors[i] = grad.select(dim, i)</source>
        <translation>grad_tensors[i] = grad.select(dim, i)</translation>
    </message>
    <message>
        <source>grad_self = grad at the position of the max, 0 elsewhere</source>
        <translation>grad_self = 最大值所在位置为 grad，其余为 0</translation>
    </message>
    <message>
        <source>grad_self = grad at the position of the min, 0 elsewhere</source>
        <translation>grad_self = 最小值所在位置为 grad，其余为 0</translation>
    </message>
    <message>
        <source>grad_self = grad where self &gt; other, grad_other = grad where other &gt; self (ties split)</source>
        <translation>grad_self = self &gt; other 处为 grad，grad_other = other &gt; self 处为 grad（相等时平分）</translation>
    </message>
    <message>
        <source>grad_self = grad where min ≤ self ≤ max, else 0</source>
        <translation>grad_self = min ≤ self ≤ max 处为 grad，否则为 0</translation>
    </message>
    <message>
        <source>grad_self = grad where self ≥ min, else 0</source>
        <translation>grad_self = self ≥ min 处为 grad，否则为 0</translation>
    </message>
    <message>
        <source>grad_self = grad where condition, grad_other = grad where not condition</source>
        <translation>grad_self = condition 为真处为 grad，grad_other = condition 为假处为 grad</translation>
    </message>
    <message>
        <source>grad_self = result · (grad − Σ(grad · result) along dim)</source>
        <translation>grad_self = result · (grad − 沿 dim 的 Σ(grad · result))</translation>
    </message>
    <message>
        <source>grad_self = grad − exp(result) · Σ grad along dim</source>
        <translation>grad_self = grad − exp(result) · 沿 dim 的 Σ grad</translation>
    </message>
    <message>
        <source>grad_self = −grad / N at each target class, 0 elsewhere</source>
        <translation>grad_self = 每个目标类别处为 −grad / N，其余为 0</translation>
    </message>
    <message>
        <source>grad_self = grad · 2 · (self − target) / N,  grad_target = −grad_self</source>
        <translation>grad_self = grad · 2 · (self − target) / N,  grad_target = −grad_self</translation>
    </message>
    <message>
        <source>grad_self = grad · (self − target) / (self · (1 − self)) / N</source>
        <translation>grad_self = grad · (self − target) / (self · (1 − self)) / N</translation>
    </message>
    <message>
        <source>grad_weight[row] += grad for every index that picked that row</source>
        <translation>每个选中该行的索引都使 grad_weight[row] += grad</translation>
    </message>
    <message>
        <source>grad_self = grad · self / result  (for the 2-norm)</source>
        <translation>grad_self = grad · self / result  （2-范数）</translation>
    </message>
    <message>
        <source>grad_self = reverse cumulative sum of grad along dim</source>
        <translation>grad_self = grad 沿 dim 的反向累加和</translation>
    </message>
    <message>
        <source>grad_self = grad · result / self</source>
        <translation>grad_self = grad · result / self</translation>
    </message>
</context>
<context>
    <name>ExportActions</name>
    <message>
        <source>E&amp;xport</source>
        <translation>导出(&amp;X)</translation>
    </message>
    <message>
        <source>Current View as PNG ({0}×)…</source>
        <translation>当前视图导出为 PNG（{0}×）…</translation>
    </message>
    <message>
        <source>Current View as SVG…</source>
        <translation>当前视图导出为 SVG…</translation>
    </message>
    <message>
        <source>Current View as PDF…</source>
        <translation>当前视图导出为 PDF…</translation>
    </message>
    <message>
        <source>Backward Walk as Animated GIF…</source>
        <translation>反向传播全过程导出为 GIF 动画…</translation>
    </message>
    <message>
        <source>Backward Walk as PDF, a Page per Step…</source>
        <translation>反向传播全过程导出为 PDF（每步一页）…</translation>
    </message>
    <message>
        <source>&amp;Copy Image</source>
        <translation>复制图片(&amp;C)</translation>
    </message>
    <message>
        <source>Copy the graph at the current step as an image (Ctrl+Shift+C)</source>
        <translation>把当前这一步的计算图复制为图片（Ctrl+Shift+C）</translation>
    </message>
    <message>
        <source>PNG image (*.png)</source>
        <translation>PNG 图片 (*.png)</translation>
    </message>
    <message>
        <source>SVG drawing (*.svg)</source>
        <translation>SVG 矢量图 (*.svg)</translation>
    </message>
    <message>
        <source>PDF document (*.pdf)</source>
        <translation>PDF 文档 (*.pdf)</translation>
    </message>
    <message>
        <source>Animated GIF (*.gif)</source>
        <translation>GIF 动画 (*.gif)</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Nothing to animate</source>
        <translation>没有可做成动画的内容</translation>
    </message>
    <message>
        <source>This pass recorded no backward steps.</source>
        <translation>这次反向传播没有记录到任何步骤。</translation>
    </message>
    <message>
        <source>Copied the graph at step {0} to the clipboard</source>
        <translation>已把第 {0} 步的计算图复制到剪贴板</translation>
    </message>
    <message>
        <source>Nothing to export</source>
        <translation>没有可导出的内容</translation>
    </message>
    <message>
        <source>Run a program first: there is no graph yet.</source>
        <translation>请先运行程序：现在还没有计算图。</translation>
    </message>
    <message>
        <source>Exported {0}</source>
        <translation>已导出 {0}</translation>
    </message>
    <message>
        <source>Cannot export</source>
        <translation>无法导出</translation>
    </message>
</context>
<context>
    <name>GraphScene</name>
    <message>
        <source>{0} identical blocks, {1} … {2}
{3}
double-click: open the first block · right-click: more</source>
        <translation>{0} 个相同的块，{1} … {2}
{3}
双击：展开第一个块 · 右键：更多</translation>
    </message>
    <message>
        <source>module {0}
{1}
double-click: open · right-click: more</source>
        <translation>模块 {0}
{1}
双击：展开 · 右键：更多</translation>
    </message>
    <message>
        <source>leaf tensor {0}</source>
        <translation>叶子张量 {0}</translation>
    </message>
    <message>
        <source>line {0}</source>
        <translation>第 {0} 行</translation>
    </message>
    <message>
        <source>in {0}</source>
        <translation>位于 {0}</translation>
    </message>
    <message>
        <source>cut off from the graph: no gradient reaches it</source>
        <translation>已从计算图中切断：没有梯度能到达这里</translation>
    </message>
    <message>
        <source>a cut</source>
        <translation>切断</translation>
    </message>
    <message>
        <source>this branch</source>
        <translation>这一支</translation>
    </message>
    <message>
        <source>{0} was cut off with {1} at L{2} — gradient stops here</source>
        <translation>{0} 在第 {2} 行被 {1} 切断 — 梯度到此为止</translation>
    </message>
    <message>
        <source>{0} was cut off with {1} — gradient stops here</source>
        <translation>{0} 被 {1} 切断 — 梯度到此为止</translation>
    </message>
    <message>
        <source>{0} sends no gradient through its input {1}, so {2} and everything before it get nothing from this backward pass.</source>
        <translation>{0} 不会经由它的第 {1} 个输入传回梯度，所以 {2} 及其之前的所有节点在这次反向传播中都得不到梯度。</translation>
    </message>
    <message>
        <source>not run yet</source>
        <translation>尚未运行</translation>
    </message>
    <message>
        <source>running now</source>
        <translation>正在运行</translation>
    </message>
    <message>
        <source>done</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>cut off</source>
        <translation>已切断</translation>
    </message>
</context>
<context>
    <name>GraphView</name>
    <message>
        <source>Grouping {0:,} nodes by module…</source>
        <translation>正在按模块归并 {0:,} 个节点…</translation>
    </message>
    <message>
        <source>Laying out {0:,} nodes…</source>
        <translation>正在排布 {0:,} 个节点…</translation>
    </message>
    <message>
        <source>Laying out {0:,} boxes…</source>
        <translation>正在排布 {0:,} 个方框…</translation>
    </message>
    <message>
        <source>Open {0}</source>
        <translation>展开 {0}</translation>
    </message>
    <message>
        <source>Open everything inside</source>
        <translation>展开其中的全部内容</translation>
    </message>
    <message>
        <source>Open the first block ({0})</source>
        <translation>展开第一个块（{0}）</translation>
    </message>
    <message>
        <source>Show all {0} blocks</source>
        <translation>显示全部 {0} 个块</translation>
    </message>
    <message>
        <source>Close {0}</source>
        <translation>收起 {0}</translation>
    </message>
    <message>
        <source>Close module</source>
        <translation>收起模块</translation>
    </message>
    <message>
        <source>Fold the {0} blocks back into one</source>
        <translation>把这 {0} 个块折叠回一个</translation>
    </message>
    <message>
        <source>top level</source>
        <translation>顶层</translation>
    </message>
    <message>
        <source>step {0:,} / {1:,}</source>
        <translation>第 {0:,} / {1:,} 步</translation>
    </message>
    <message>
        <source>block {0} of {1} (folded)</source>
        <translation>第 {0} 个块（共 {1} 个，已折叠）</translation>
    </message>
</context>
<context>
    <name>Inspector</name>
    <message>
        <source>Click a node in the graph to inspect it.

Step through backward() with the timeline below (← → Space).</source>
        <translation>点击计算图中的节点查看它的详情。

用下方的时间轴逐步回放 backward()（← → 空格）。</translation>
    </message>
    <message>
        <source>leaf tensor (AccumulateGrad)</source>
        <translation>叶子张量（AccumulateGrad）</translation>
    </message>
    <message>
        <source>detached: no gradient flows here</source>
        <translation>已分离：梯度不会流经这里</translation>
    </message>
    <message>
        <source>operation</source>
        <translation>运算</translation>
    </message>
    <message>
        <source>line {0}</source>
        <translation>第 {0} 行</translation>
    </message>
    <message>
        <source>in module {0}</source>
        <translation>位于模块 {0}</translation>
    </message>
    <message>
        <source>Derivative rule</source>
        <translation>求导法则</translation>
    </message>
    <message>
        <source>Attributes</source>
        <translation>属性</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>the leaf tensor</source>
        <translation>叶子张量</translation>
    </message>
    <message>
        <source>Saved for backward</source>
        <translation>为反向传播保存的张量</translation>
    </message>
    <message>
        <source>At step {0} / {1}</source>
        <translation>第 {0} / {1} 步时</translation>
    </message>
    <message>
        <source>pending</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>not reached yet: the engine has not run this node.</source>
        <translation>还没轮到：引擎尚未运行这个节点。</translation>
    </message>
    <message>
        <source>current</source>
        <translation>当前</translation>
    </message>
    <message>
        <source>running now: gradient arrives and is sent on.</source>
        <translation>正在运行：梯度传到这里，并继续向后传递。</translation>
    </message>
    <message>
        <source>done</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>its gradients have been sent on.</source>
        <translation>它的梯度已经传递出去。</translation>
    </message>
    <message>
        <source>detached</source>
        <translation>已分离</translation>
    </message>
    <message>
        <source>cut off from the graph, so backward() never reaches it.</source>
        <translation>已从计算图中切断，backward() 永远不会到达这里。</translation>
    </message>
    <message>
        <source>unused</source>
        <translation>未使用</translation>
    </message>
    <message>
        <source>the engine did not run this node in this pass.</source>
        <translation>引擎在这次反向传播中没有运行这个节点。</translation>
    </message>
    <message>
        <source>gradient arriving (output {0})</source>
        <translation>传入的梯度（输出 {0}）</translation>
    </message>
    <message>
        <source>gradient arriving</source>
        <translation>传入的梯度</translation>
    </message>
    <message>
        <source>input {0} → {1}: cut off by {2}, gets nothing</source>
        <translation>输入 {0} → {1}：被 {2} 切断，得不到梯度</translation>
    </message>
    <message>
        <source>input {0} → {1}: cut off, gets nothing</source>
        <translation>输入 {0} → {1}：已切断，得不到梯度</translation>
    </message>
    <message>
        <source>nothing (needs no gradient)</source>
        <translation>无（不需要梯度）</translation>
    </message>
    <message>
        <source>sent to input {0} → {1}</source>
        <translation>传给输入 {0} → {1}</translation>
    </message>
    <message>
        <source>.grad  before → after</source>
        <translation>.grad  之前 → 之后</translation>
    </message>
    <message>
        <source>before this pass</source>
        <translation>这次反向传播之前</translation>
    </message>
    <message>
        <source>after</source>
        <translation>之后</translation>
    </message>
    <message>
        <source>after: (not accumulated yet)</source>
        <translation>之后：（尚未累加）</translation>
    </message>
</context>
<context>
    <name>LessonDock</name>
    <message>
        <source>Lessons</source>
        <translation>课程</translation>
    </message>
    <message>
        <source>&amp;Lessons</source>
        <translation>课程(&amp;L)</translation>
    </message>
    <message>
        <source>The D2L autograd lesson, step by step (Ctrl+L)</source>
        <translation>D2L 自动求导课程，一步一步讲解（Ctrl+L）</translation>
    </message>
</context>
<context>
    <name>LessonPanel</name>
    <message>
        <source>Running the example…</source>
        <translation>正在运行示例…</translation>
    </message>
    <message>
        <source>The example could not be run.</source>
        <translation>示例无法运行。</translation>
    </message>
    <message>
        <source>Could not open the lesson&apos;s step: {0}</source>
        <translation>无法打开本课对应的步骤：{0}</translation>
    </message>
    <message>
        <source>Pass {0} of {1}: {2}</source>
        <translation>第 {0} 次反向传播（共 {1} 次）：{2}</translation>
    </message>
    <message>
        <source>gradient reaching {0} = {1}</source>
        <translation>到达 {0} 的梯度 = {1}</translation>
    </message>
    <message>
        <source>Press “Run this lesson” to load and run {0}.</source>
        <translation>点击“运行本课”载入并运行 {0}。</translation>
    </message>
    <message>
        <source>D2L autograd lesson (自动求导), cells {0}</source>
        <translation>D2L 自动求导课程，单元格 {0}</translation>
    </message>
    <message>
        <source>Next steps</source>
        <translation>进阶练习</translation>
    </message>
    <message>
        <source>Lesson {0} of {1} · {2} · {3}</source>
        <translation>第 {0} 课（共 {1} 课） · {2} · {3}</translation>
    </message>
    <message>
        <source>not run yet</source>
        <translation>尚未运行</translation>
    </message>
    <message>
        <source>not printed</source>
        <translation>没有输出</translation>
    </message>
    <message>
        <source>This lesson prints nothing to check.</source>
        <translation>本课没有需要核对的输出。</translation>
    </message>
    <message>
        <source>◀ Previous</source>
        <translation>◀ 上一课</translation>
    </message>
    <message>
        <source>Previous lesson</source>
        <translation>上一课</translation>
    </message>
    <message>
        <source>Next ▶</source>
        <translation>下一课 ▶</translation>
    </message>
    <message>
        <source>Next lesson</source>
        <translation>下一课</translation>
    </message>
    <message>
        <source>Run this lesson</source>
        <translation>运行本课</translation>
    </message>
    <message>
        <source>Load the lesson&apos;s example into the editor, run it and open its step</source>
        <translation>把本课的示例载入编辑器，运行它并打开对应的步骤</translation>
    </message>
    <message>
        <source>Back to the lesson&apos;s step</source>
        <translation>回到本课的步骤</translation>
    </message>
    <message>
        <source>What the program printed</source>
        <translation>程序的输出</translation>
    </message>
    <message>
        <source>Where to look</source>
        <translation>看哪里</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Find node: variable or op (Ctrl+F)</source>
        <translation>查找节点：变量名或运算（Ctrl+F）</translation>
    </message>
    <message>
        <source>Run a program to see its autograd graph</source>
        <translation>运行程序，查看它的自动求导计算图</translation>
    </message>
    <message>
        <source>Zoom out (Ctrl+-)</source>
        <translation>缩小（Ctrl+-）</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>适应窗口</translation>
    </message>
    <message>
        <source>Fit the graph (Ctrl+0)</source>
        <translation>让计算图适应窗口（Ctrl+0）</translation>
    </message>
    <message>
        <source>Zoom in (Ctrl+=)</source>
        <translation>放大（Ctrl+=）</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Run the program (Ctrl+Enter)</source>
        <translation>运行程序（Ctrl+Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the running program (Ctrl+.)</source>
        <translation>停止正在运行的程序（Ctrl+.）</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;New</source>
        <translation>新建(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <source>Open &amp;Recent</source>
        <translation>最近打开(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <source>Save &amp;As…</source>
        <translation>另存为(&amp;A)…</translation>
    </message>
    <message>
        <source>Export Graph…</source>
        <translation>导出计算图…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <source>Toggle &amp;Comment	Ctrl+/</source>
        <translation>切换注释(&amp;C)	Ctrl+/</translation>
    </message>
    <message>
        <source>&amp;Find Node</source>
        <translation>查找节点(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <source>Time &amp;Limit…</source>
        <translation>时间限制(&amp;L)…</translation>
    </message>
    <message>
        <source>Keep the Last Pass in &amp;Full</source>
        <translation>完整保留最后一次反向传播(&amp;F)</translation>
    </message>
    <message>
        <source>Off: backward passes after the first ten are only summarised, the last one too; long training loops run faster</source>
        <translation>关闭时：前十次之后的反向传播（包括最后一次）只保留摘要；较长的训练循环运行得更快</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Zoom &amp;In	Ctrl+=</source>
        <translation>放大(&amp;I)	Ctrl+=</translation>
    </message>
    <message>
        <source>Zoom &amp;Out	Ctrl+-</source>
        <translation>缩小(&amp;O)	Ctrl+-</translation>
    </message>
    <message>
        <source>&amp;Fit Graph	Ctrl+0</source>
        <translation>适应窗口(&amp;F)	Ctrl+0</translation>
    </message>
    <message>
        <source>Fit Each New Pass</source>
        <translation>每次新的反向传播都适应窗口</translation>
    </message>
    <message>
        <source>Bigger Code Text</source>
        <translation>增大代码字号</translation>
    </message>
    <message>
        <source>Smaller Code Text</source>
        <translation>减小代码字号</translation>
    </message>
    <message>
        <source>&amp;Light Theme</source>
        <translation>浅色主题(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Dark Theme</source>
        <translation>深色主题(&amp;D)</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>语言 Language(&amp;G)</translation>
    </message>
    <message>
        <source>E&amp;xamples</source>
        <translation>示例(&amp;X)</translation>
    </message>
    <message>
        <source>(no examples installed)</source>
        <translation>（没有安装示例）</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About gradviz</source>
        <translation>关于 gradviz(&amp;A)</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <source>Open a Python program</source>
        <translation>打开 Python 程序</translation>
    </message>
    <message>
        <source>Python (*.py);;All files (*)</source>
        <translation>Python 程序 (*.py);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Save the program</source>
        <translation>保存程序</translation>
    </message>
    <message>
        <source>Python (*.py)</source>
        <translation>Python 程序 (*.py)</translation>
    </message>
    <message>
        <source>Unsaved changes</source>
        <translation>有未保存的修改</translation>
    </message>
    <message>
        <source>{0} has changes that are not saved.</source>
        <translation>{0} 有尚未保存的修改。</translation>
    </message>
    <message>
        <source>earlier</source>
        <translation>之前</translation>
    </message>
    <message>
        <source>Recover unsaved text</source>
        <translation>恢复未保存的内容</translation>
    </message>
    <message>
        <source>gradviz kept a copy of {0} from {1} that was never saved.
Restore it?</source>
        <translation>gradviz 保留了 {1} 时 {0} 的一份未保存副本。
要恢复它吗？</translation>
    </message>
    <message>
        <source>Time limit</source>
        <translation>时间限制</translation>
    </message>
    <message>
        <source>Stop a run after (seconds):</source>
        <translation>运行超过多少秒后停止：</translation>
    </message>
    <message>
        <source>Export the graph</source>
        <translation>导出计算图</translation>
    </message>
    <message>
        <source>PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf);;Graphviz DOT (*.dot)</source>
        <translation>PNG 图片 (*.png);;SVG 矢量图 (*.svg);;PDF 文档 (*.pdf);;Graphviz DOT (*.dot)</translation>
    </message>
    <message>
        <source>Cannot open file</source>
        <translation>无法打开文件</translation>
    </message>
    <message>
        <source>Opened {0}</source>
        <translation>已打开 {0}</translation>
    </message>
    <message>
        <source>Cannot save file</source>
        <translation>无法保存文件</translation>
    </message>
    <message>
        <source>Saved {0}</source>
        <translation>已保存 {0}</translation>
    </message>
    <message>
        <source>Clear Recent Files</source>
        <translation>清空最近打开的文件</translation>
    </message>
    <message>
        <source>Could not autosave: {0}</source>
        <translation>无法自动保存：{0}</translation>
    </message>
    <message>
        <source>Running…</source>
        <translation>正在运行…</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>Running… line {0}</source>
        <translation>正在运行… 第 {0} 行</translation>
    </message>
    <message>
        <source>backward pass {0} (line {1})</source>
        <translation>第 {0} 次反向传播（第 {1} 行）</translation>
    </message>
    <message>
        <source>The program ran but called no backward(): nothing to draw. Add e.g. loss.backward().</source>
        <translation>程序运行了，但没有调用 backward()：没有可画的内容。可以加上例如 loss.backward()。</translation>
    </message>
    <message>
        <source>Finished</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Timed out</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>1 backward pass</source>
        <translation>1 次反向传播</translation>
    </message>
    <message>
        <source>{0} backward passes</source>
        <translation>{0} 次反向传播</translation>
    </message>
    <message>
        <source>{0} in {1} · {2}</source>
        <translation>{0}，用时 {1} · {2}</translation>
    </message>
    <message>
        <source>No graph to show</source>
        <translation>没有可显示的计算图</translation>
    </message>
    <message>
        <source>{0} · graph not kept (summary pass)</source>
        <translation>{0} · 未保留计算图（仅摘要）</translation>
    </message>
    <message>
        <source>Could not lay out this pass: {0}</source>
        <translation>无法排布这次反向传播的计算图：{0}</translation>
    </message>
    <message>
        <source>{0} found</source>
        <translation>找到 {0} 个</translation>
    </message>
    <message>
        <source>none found</source>
        <translation>没有找到</translation>
    </message>
    <message>
        <source>Nothing to export</source>
        <translation>没有可导出的内容</translation>
    </message>
    <message>
        <source>Run a program first: there is no graph yet.</source>
        <translation>请先运行程序：现在还没有计算图。</translation>
    </message>
    <message>
        <source>Cannot export</source>
        <translation>无法导出</translation>
    </message>
    <message>
        <source>Exported {0}</source>
        <translation>已导出 {0}</translation>
    </message>
    <message>
        <source># Type a small PyTorch program here, or open one from the Examples menu,
# then press Ctrl+Enter to run it and watch backward() step by step.</source>
        <translation># 在这里输入一段简短的 PyTorch 程序，或从“示例”菜单打开一个，
# 然后按 Ctrl+Enter 运行，逐步观看 backward() 的过程。</translation>
    </message>
    <message>
        <source>See autograd: run a small PyTorch program, draw its grad_fn graph and replay backward() step by step.</source>
        <translation>看见自动求导：运行一段简短的 PyTorch 程序，画出它的 grad_fn 计算图，并逐步回放 backward()。</translation>
    </message>
    <message>
        <source>About gradviz</source>
        <translation>关于 gradviz</translation>
    </message>
    <message>
        <source>line {0}</source>
        <translation>第 {0} 行</translation>
    </message>
</context>
<context>
    <name>Minimap</name>
    <message>
        <source>The whole graph: click or drag to move the view</source>
        <translation>整个计算图：点击或拖动来移动视图</translation>
    </message>
</context>
<context>
    <name>OutputPanel</name>
    <message>
        <source>Error</source>
        <translation>错误</translation>
    </message>
    <message>
        <source>Stopped: time limit</source>
        <translation>已停止：超出时间限制</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>(line {0})</source>
        <translation>（第 {0} 行）</translation>
    </message>
    <message>
        <source>Output of print() appears here. Run with Ctrl+Enter.</source>
        <translation>print() 的输出显示在这里。按 Ctrl+Enter 运行。</translation>
    </message>
    <message>
        <source>line {0}</source>
        <translation>第 {0} 行</translation>
    </message>
</context>
<context>
    <name>Presenter</name>
    <message>
        <source>&amp;Presentation Mode</source>
        <translation>演示模式(&amp;P)</translation>
    </message>
    <message>
        <source>Full screen, large text, for a projector (F5; Esc leaves)</source>
        <translation>全屏、大字号，适合投影仪（F5；Esc 退出）</translation>
    </message>
    <message>
        <source>Presentation &amp;Options</source>
        <translation>演示选项(&amp;O)</translation>
    </message>
    <message>
        <source>High-Contrast &amp;Light Theme</source>
        <translation>高对比度浅色主题(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Dark Theme</source>
        <translation>深色主题(&amp;D)</translation>
    </message>
    <message>
        <source>Show the &amp;Code</source>
        <translation>显示代码(&amp;C)</translation>
    </message>
    <message>
        <source>Show the &amp;Inspector</source>
        <translation>显示检查器(&amp;I)</translation>
    </message>
    <message>
        <source>Text &amp;Size</source>
        <translation>字号(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Play Backward from the Start	P</source>
        <translation>从头播放反向传播(&amp;P)	P</translation>
    </message>
    <message>
        <source>Auto-Play &amp;Speed</source>
        <translation>自动播放速度(&amp;S)</translation>
    </message>
</context>
<context>
    <name>RunController</name>
    <message>
        <source>the program ran longer than the time limit and was stopped</source>
        <translation>程序运行超出时间限制，已被停止</translation>
    </message>
    <message>
        <source>stopped before the end</source>
        <translation>在结束前被停止</translation>
    </message>
    <message>
        <source>the program failed</source>
        <translation>程序运行出错</translation>
    </message>
</context>
<context>
    <name>Stepper</name>
    <message>
        <source>implicit backward()</source>
        <translation>隐式 backward()</translation>
    </message>
    <message>
        <source>line {0}</source>
        <translation>第 {0} 行</translation>
    </message>
    <message>
        <source>summary</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>ok</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>error</source>
        <translation>出错</translation>
    </message>
    <message>
        <source>timeout</source>
        <translation>超时</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>no steps recorded</source>
        <translation>没有记录到步骤</translation>
    </message>
    <message>
        <source>summary only: graph not kept</source>
        <translation>仅摘要：未保留计算图</translation>
    </message>
    <message>
        <source>step 0 / {0} · before backward</source>
        <translation>第 0 / {0} 步 · 反向传播之前</translation>
    </message>
    <message>
        <source>step {0} / {1} · {2}</source>
        <translation>第 {0} / {1} 步 · {2}</translation>
    </message>
    <message>
        <source>Pass</source>
        <translation>反向传播</translation>
    </message>
    <message>
        <source>Which backward()/autograd.grad() call to show</source>
        <translation>显示哪一次 backward()/autograd.grad() 调用</translation>
    </message>
    <message>
        <source>Playback speed</source>
        <translation>播放速度</translation>
    </message>
    <message>
        <source>First step (Home)</source>
        <translation>第一步（Home）</translation>
    </message>
    <message>
        <source>Previous step (Left)</source>
        <translation>上一步（←）</translation>
    </message>
    <message>
        <source>Play / pause (Space)</source>
        <translation>播放 / 暂停（空格）</translation>
    </message>
    <message>
        <source>Next step (Right)</source>
        <translation>下一步（→）</translation>
    </message>
    <message>
        <source>Last step (End)</source>
        <translation>最后一步（End）</translation>
    </message>
    <message>
        <source>no backward pass yet</source>
        <translation>还没有反向传播</translation>
    </message>
</context>
<context>
    <name>TensorView</name>
    <message>
        <source>scalar</source>
        <translation>标量</translation>
    </message>
    <message>
        <source>blue &lt; 0 &lt; red, scaled to the largest |value|; magenta = NaN/Inf</source>
        <translation>蓝 &lt; 0 &lt; 红，按最大的 |值| 缩放；品红 = NaN/Inf</translation>
    </message>
    <message>
        <source>(values not kept)</source>
        <translation>（未保留数值）</translation>
    </message>
</context>
</TS>
