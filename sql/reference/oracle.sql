-- 双重预防机制数据中间表（参考定义） (oracle)
-- Generated from sql/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.
-- Strings use CHAR length semantics: VARCHAR2(n CHAR) holds n characters, not n bytes.

-- dp_hazard: 安全风险分析对象（危险源）
CREATE TABLE dp_hazard (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	hazard_code VARCHAR2(36 CHAR) NOT NULL,
	hazard_name VARCHAR2(200 CHAR) NOT NULL,
	is_major VARCHAR2(1 CHAR) NOT NULL,
	hazard_level VARCHAR2(1 CHAR),
	rvalue NUMERIC(10, 2),
	establish_date DATE,
	responsible VARCHAR2(50 CHAR),
	responsible_phone VARCHAR2(20 CHAR),
	responsible_post VARCHAR2(50 CHAR),
	technical VARCHAR2(50 CHAR),
	technical_phone VARCHAR2(20 CHAR),
	technical_post VARCHAR2(50 CHAR),
	operation VARCHAR2(50 CHAR),
	operation_phone VARCHAR2(20 CHAR),
	operation_post VARCHAR2(50 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_hazard_area_code ON dp_hazard (area_code);
CREATE UNIQUE INDEX ux_dp_hazard_code ON dp_hazard (company_code, hazard_code);
COMMENT ON TABLE dp_hazard IS '安全风险分析对象（危险源）：Production/storage facilities, sites and areas analysed for risk, identified by the 危险源编码 of 危险化学品登记信息管理系统, with the three 重大危险源安全包保责任人. Nationally only hazard_code travels on child rows; this master is an assumption.';
COMMENT ON COLUMN dp_hazard.id IS '分析对象ID：UUID';
COMMENT ON COLUMN dp_hazard.company_code IS '企业编码：9-digit code from 危险化学品登记信息管理系统';
COMMENT ON COLUMN dp_hazard.hazard_code IS '危险源编码：code from 危险化学品登记信息管理系统';
COMMENT ON COLUMN dp_hazard.hazard_name IS '危险源名称';
COMMENT ON COLUMN dp_hazard.is_major IS '是否重大危险源';
COMMENT ON COLUMN dp_hazard.hazard_level IS '重大危险源级别：1 一级 .. 4 四级; NULL when not a major hazard';
COMMENT ON COLUMN dp_hazard.rvalue IS 'R值';
COMMENT ON COLUMN dp_hazard.establish_date IS '投用日期';
COMMENT ON COLUMN dp_hazard.responsible IS '主要负责人：包保主要负责人姓名';
COMMENT ON COLUMN dp_hazard.responsible_phone IS '主要负责人电话';
COMMENT ON COLUMN dp_hazard.responsible_post IS '主要负责人职务';
COMMENT ON COLUMN dp_hazard.technical IS '技术负责人：包保技术负责人姓名';
COMMENT ON COLUMN dp_hazard.technical_phone IS '技术负责人电话';
COMMENT ON COLUMN dp_hazard.technical_post IS '技术负责人职务';
COMMENT ON COLUMN dp_hazard.operation IS '操作负责人：包保操作负责人姓名';
COMMENT ON COLUMN dp_hazard.operation_phone IS '操作负责人电话';
COMMENT ON COLUMN dp_hazard.operation_post IS '操作负责人职务';
COMMENT ON COLUMN dp_hazard.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_hazard.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_hazard.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_hazard.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_hazard.update_by IS '最后修改人';
COMMENT ON COLUMN dp_hazard.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_hazard.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_hazard.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_risk_unit: 安全风险分析单元
CREATE TABLE dp_risk_unit (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	hazard_code VARCHAR2(36 CHAR) NOT NULL,
	hazard_dep VARCHAR2(200 CHAR) NOT NULL,
	hazard_liable_person VARCHAR2(20 CHAR) NOT NULL,
	risk_unit_name VARCHAR2(200 CHAR) NOT NULL,
	risk_level VARCHAR2(1 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_unit_area_code ON dp_risk_unit (area_code);
CREATE INDEX ix_dp_risk_unit_company_code ON dp_risk_unit (company_code);
COMMENT ON TABLE dp_risk_unit IS '安全风险分析单元：A unit within an analysis object (e.g. 甲醇罐区微单元).';
COMMENT ON COLUMN dp_risk_unit.id IS '风险单元ID：UUID';
COMMENT ON COLUMN dp_risk_unit.company_code IS '企业编码';
COMMENT ON COLUMN dp_risk_unit.hazard_code IS '风险分析对象编码：危险源编码 of the analysis object';
COMMENT ON COLUMN dp_risk_unit.hazard_dep IS '责任部门：department that owns the analysis object';
COMMENT ON COLUMN dp_risk_unit.hazard_liable_person IS '责任人：head of that department';
COMMENT ON COLUMN dp_risk_unit.risk_unit_name IS '风险分析单元名称';
COMMENT ON COLUMN dp_risk_unit.risk_level IS '风险等级：highest risk level among the unit''s risks';
COMMENT ON COLUMN dp_risk_unit.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_risk_unit.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_risk_unit.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_risk_unit.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_risk_unit.update_by IS '最后修改人';
COMMENT ON COLUMN dp_risk_unit.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_risk_unit.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_risk_unit.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_risk_event: 安全风险事件
CREATE TABLE dp_risk_event (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	risk_unit_id VARCHAR2(36 CHAR) NOT NULL,
	risk_event_name VARCHAR2(500 CHAR) NOT NULL,
	risk_level VARCHAR2(1 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_event_area_code ON dp_risk_event (area_code);
CREATE INDEX ix_dp_risk_event_company_code ON dp_risk_event (company_code);
CREATE INDEX ix_dp_risk_event_risk_unit_id ON dp_risk_event (risk_unit_id);
COMMENT ON TABLE dp_risk_event IS '安全风险事件：The most severe consequence chosen for key control (爆炸、火灾、中毒、窒息 ...).';
COMMENT ON COLUMN dp_risk_event.id IS '风险事件ID：UUID';
COMMENT ON COLUMN dp_risk_event.company_code IS '企业编码';
COMMENT ON COLUMN dp_risk_event.risk_unit_id IS '风险单元ID';
COMMENT ON COLUMN dp_risk_event.risk_event_name IS '风险事件名称';
COMMENT ON COLUMN dp_risk_event.risk_level IS '风险等级：highest level among the risks behind the event';
COMMENT ON COLUMN dp_risk_event.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_risk_event.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_risk_event.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_risk_event.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_risk_event.update_by IS '最后修改人';
COMMENT ON COLUMN dp_risk_event.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_risk_event.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_risk_event.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_risk_measure: 安全风险管控措施
CREATE TABLE dp_risk_measure (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	risk_event_id VARCHAR2(36 CHAR) NOT NULL,
	data_src VARCHAR2(2 CHAR) NOT NULL,
	risk_measure_desc CLOB NOT NULL,
	classify1 VARCHAR2(2 CHAR) NOT NULL,
	classify2 VARCHAR2(4 CHAR) NOT NULL,
	classify3 VARCHAR2(100 CHAR),
	troubleshoot_content CLOB NOT NULL,
	control_level VARCHAR2(20 CHAR),
	post_liable_person VARCHAR2(50 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_measure_company ON dp_risk_measure (company_code);
CREATE INDEX ix_dp_measure_event ON dp_risk_measure (risk_event_id);
CREATE INDEX ix_dp_risk_measure_area_code ON dp_risk_measure (area_code);
COMMENT ON TABLE dp_risk_measure IS '安全风险管控措施';
COMMENT ON COLUMN dp_risk_measure.id IS '管控措施ID：UUID';
COMMENT ON COLUMN dp_risk_measure.company_code IS '企业编码';
COMMENT ON COLUMN dp_risk_measure.risk_event_id IS '风险事件ID';
COMMENT ON COLUMN dp_risk_measure.data_src IS '管控方式';
COMMENT ON COLUMN dp_risk_measure.risk_measure_desc IS '管控措施描述：national varchar(4000); text because 4000 Chinese characters exceed Oracle''s 4000-byte VARCHAR2';
COMMENT ON COLUMN dp_risk_measure.classify1 IS '管控措施分类1';
COMMENT ON COLUMN dp_risk_measure.classify2 IS '管控措施分类2：<classify1>-<n>';
COMMENT ON COLUMN dp_risk_measure.classify3 IS '管控措施分类3：enterprise-defined free text';
COMMENT ON COLUMN dp_risk_measure.troubleshoot_content IS '隐患排查内容';
COMMENT ON COLUMN dp_risk_measure.control_level IS '管控层级：free text (公司级/厂级/车间级/班组级/岗位级); no national code list';
COMMENT ON COLUMN dp_risk_measure.post_liable_person IS '岗位责任人';
COMMENT ON COLUMN dp_risk_measure.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_risk_measure.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_risk_measure.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_risk_measure.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_risk_measure.update_by IS '最后修改人';
COMMENT ON COLUMN dp_risk_measure.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_risk_measure.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_risk_measure.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_check_task: 隐患排查任务
CREATE TABLE dp_check_task (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	risk_measure_id VARCHAR2(36 CHAR) NOT NULL,
	troubleshoot_content VARCHAR2(1000 CHAR) NOT NULL,
	check_cycle NUMERIC(6, 2) NOT NULL,
	check_cycle_unit VARCHAR2(20 CHAR) NOT NULL,
	task_start_time DATE,
	work_start_time VARCHAR2(8 CHAR),
	work_end_time VARCHAR2(8 CHAR),
	work_day_type VARCHAR2(1 CHAR),
	work_type VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	task_num VARCHAR2(2 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_check_task_area_code ON dp_check_task (area_code);
CREATE INDEX ix_dp_check_task_company_code ON dp_check_task (company_code);
CREATE INDEX ix_dp_task_measure ON dp_check_task (risk_measure_id);
COMMENT ON TABLE dp_check_task IS '隐患排查任务';
COMMENT ON COLUMN dp_check_task.id IS '排查任务ID：UUID';
COMMENT ON COLUMN dp_check_task.company_code IS '企业编码';
COMMENT ON COLUMN dp_check_task.risk_measure_id IS '管控措施ID';
COMMENT ON COLUMN dp_check_task.troubleshoot_content IS '隐患排查内容';
COMMENT ON COLUMN dp_check_task.check_cycle IS '排查周期：> 0, in check_cycle_unit';
COMMENT ON COLUMN dp_check_task.check_cycle_unit IS '排查周期单位：小时/天/月/年 stored as Chinese text';
COMMENT ON COLUMN dp_check_task.task_start_time IS '任务开始时间：first execution of the task';
COMMENT ON COLUMN dp_check_task.work_start_time IS '工作开始时间：HH:MM:SS; required when the unit is 小时';
COMMENT ON COLUMN dp_check_task.work_end_time IS '工作结束时间：HH:MM:SS; required when the unit is 小时';
COMMENT ON COLUMN dp_check_task.work_day_type IS '工作日类型';
COMMENT ON COLUMN dp_check_task.work_type IS '任务类型';
COMMENT ON COLUMN dp_check_task.task_num IS '包保任务对应项：1-9 / 1-10 item of the 包保 task list; required when work_type is not 0';
COMMENT ON COLUMN dp_check_task.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_check_task.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_check_task.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_check_task.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_check_task.update_by IS '最后修改人';
COMMENT ON COLUMN dp_check_task.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_check_task.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_check_task.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_check_record: 隐患排查记录
CREATE TABLE dp_check_record (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	check_task_id VARCHAR2(36 CHAR) NOT NULL,
	check_time DATE NOT NULL,
	check_status VARCHAR2(1 CHAR) NOT NULL,
	mobile_me VARCHAR2(50 CHAR),
	is_defend VARCHAR2(1 CHAR),
	create_by_mobile VARCHAR2(20 CHAR) NOT NULL,
	update_by_mobile VARCHAR2(20 CHAR) NOT NULL,
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_check_record_area_code ON dp_check_record (area_code);
CREATE INDEX ix_dp_check_record_check_time ON dp_check_record (check_time);
CREATE INDEX ix_dp_record_company ON dp_check_record (company_code);
CREATE INDEX ix_dp_record_task ON dp_check_record (check_task_id);
COMMENT ON TABLE dp_check_record IS '隐患排查记录';
COMMENT ON COLUMN dp_check_record.id IS '排查记录ID：UUID';
COMMENT ON COLUMN dp_check_record.company_code IS '企业编码';
COMMENT ON COLUMN dp_check_record.check_task_id IS '排查任务ID';
COMMENT ON COLUMN dp_check_record.check_time IS '排查时间';
COMMENT ON COLUMN dp_check_record.check_status IS '排查结果';
COMMENT ON COLUMN dp_check_record.mobile_me IS '设备IMEI码';
COMMENT ON COLUMN dp_check_record.is_defend IS '是否包保责任人任务';
COMMENT ON COLUMN dp_check_record.create_by_mobile IS '创建人手机号';
COMMENT ON COLUMN dp_check_record.update_by_mobile IS '最后修改人手机号';
COMMENT ON COLUMN dp_check_record.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_check_record.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_check_record.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_check_record.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_check_record.update_by IS '最后修改人';
COMMENT ON COLUMN dp_check_record.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_check_record.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_check_record.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_hidden_danger: 隐患信息（隐患治理台账）
CREATE TABLE dp_hidden_danger (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	hazard_code VARCHAR2(36 CHAR) NOT NULL,
	risk_measure_id VARCHAR2(36 CHAR),
	check_record_id VARCHAR2(36 CHAR),
	danger_name VARCHAR2(300 CHAR) NOT NULL,
	danger_level VARCHAR2(1 CHAR) NOT NULL,
	regist_time DATE NOT NULL,
	registrant VARCHAR2(100 CHAR) NOT NULL,
	danger_src VARCHAR2(4 CHAR) NOT NULL,
	enforcement_id VARCHAR2(100 CHAR),
	danger_manage_type VARCHAR2(1 CHAR) NOT NULL,
	hazard_danger_type VARCHAR2(1 CHAR) NOT NULL,
	hazard_category VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	danger_desc CLOB NOT NULL,
	danger_reason CLOB,
	control_measures VARCHAR2(1000 CHAR),
	cost VARCHAR2(100 CHAR),
	liable_person VARCHAR2(100 CHAR) NOT NULL,
	danger_manage_deadline DATE NOT NULL,
	check_accept_person VARCHAR2(50 CHAR),
	check_accept_time DATE,
	check_accept_comment VARCHAR2(1000 CHAR),
	danger_state VARCHAR2(1 CHAR) NOT NULL,
	danger_img CLOB,
	danger_accept_img CLOB,
	management_classification VARCHAR2(1 CHAR),
	occurrence_link VARCHAR2(2 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_danger_company ON dp_hidden_danger (company_code);
CREATE INDEX ix_dp_danger_record ON dp_hidden_danger (check_record_id);
CREATE INDEX ix_dp_danger_state ON dp_hidden_danger (danger_state);
CREATE INDEX ix_dp_hidden_danger_area_code ON dp_hidden_danger (area_code);
COMMENT ON TABLE dp_hidden_danger IS '隐患信息（隐患治理台账）：One row per hidden danger, from registration through rectification to acceptance.';
COMMENT ON COLUMN dp_hidden_danger.id IS '隐患ID：UUID';
COMMENT ON COLUMN dp_hidden_danger.company_code IS '企业编码';
COMMENT ON COLUMN dp_hidden_danger.hazard_code IS '风险分析对象编码';
COMMENT ON COLUMN dp_hidden_danger.risk_measure_id IS '管控措施ID：required for dangers found by a check task; NULL for other sources';
COMMENT ON COLUMN dp_hidden_danger.check_record_id IS '排查记录ID：required for dangers found by a check task; NULL for other sources';
COMMENT ON COLUMN dp_hidden_danger.danger_name IS '隐患名称';
COMMENT ON COLUMN dp_hidden_danger.danger_level IS '隐患等级';
COMMENT ON COLUMN dp_hidden_danger.regist_time IS '登记时间';
COMMENT ON COLUMN dp_hidden_danger.registrant IS '登记人';
COMMENT ON COLUMN dp_hidden_danger.danger_src IS '隐患来源';
COMMENT ON COLUMN dp_hidden_danger.enforcement_id IS '执法编号：for dangers found by law enforcement';
COMMENT ON COLUMN dp_hidden_danger.danger_manage_type IS '隐患治理类型';
COMMENT ON COLUMN dp_hidden_danger.hazard_danger_type IS '隐患类型';
COMMENT ON COLUMN dp_hidden_danger.hazard_category IS '隐患类别';
COMMENT ON COLUMN dp_hidden_danger.danger_desc IS '隐患描述';
COMMENT ON COLUMN dp_hidden_danger.danger_reason IS '原因分析';
COMMENT ON COLUMN dp_hidden_danger.control_measures IS '控制措施';
COMMENT ON COLUMN dp_hidden_danger.cost IS '整改资金：万元';
COMMENT ON COLUMN dp_hidden_danger.liable_person IS '整改责任人';
COMMENT ON COLUMN dp_hidden_danger.danger_manage_deadline IS '隐患治理期限';
COMMENT ON COLUMN dp_hidden_danger.check_accept_person IS '验收人：required when danger_state is 9';
COMMENT ON COLUMN dp_hidden_danger.check_accept_time IS '验收时间：required when danger_state is 9';
COMMENT ON COLUMN dp_hidden_danger.check_accept_comment IS '验收情况';
COMMENT ON COLUMN dp_hidden_danger.danger_state IS '隐患状态';
COMMENT ON COLUMN dp_hidden_danger.danger_img IS '隐患照片：image URL or base64; the province''s attachment service decides';
COMMENT ON COLUMN dp_hidden_danger.danger_accept_img IS '整改后照片：idem';
COMMENT ON COLUMN dp_hidden_danger.management_classification IS '隐患管理分类';
COMMENT ON COLUMN dp_hidden_danger.occurrence_link IS '发生环节';
COMMENT ON COLUMN dp_hidden_danger.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_hidden_danger.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_hidden_danger.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_hidden_danger.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_hidden_danger.update_by IS '最后修改人';
COMMENT ON COLUMN dp_hidden_danger.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_hidden_danger.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_hidden_danger.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_unit_stop: 装置停用检修记录
CREATE TABLE dp_unit_stop (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	hazard_code VARCHAR2(36 CHAR) NOT NULL,
	risk_unit_id VARCHAR2(36 CHAR) NOT NULL,
	stop_start_time DATE NOT NULL,
	stop_end_time DATE,
	stop_reason VARCHAR2(500 CHAR),
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_unit_stop_area_code ON dp_unit_stop (area_code);
CREATE INDEX ix_dp_unit_stop_company_code ON dp_unit_stop (company_code);
CREATE INDEX ix_dp_unit_stop_risk_unit_id ON dp_unit_stop (risk_unit_id);
COMMENT ON TABLE dp_unit_stop IS '装置停用检修记录：Tasks under a stopped unit are not counted as missed while it is stopped.';
COMMENT ON COLUMN dp_unit_stop.id IS '停用检修记录ID：UUID';
COMMENT ON COLUMN dp_unit_stop.company_code IS '企业编码';
COMMENT ON COLUMN dp_unit_stop.hazard_code IS '风险分析对象编码';
COMMENT ON COLUMN dp_unit_stop.risk_unit_id IS '风险单元ID';
COMMENT ON COLUMN dp_unit_stop.stop_start_time IS '停用开始时间';
COMMENT ON COLUMN dp_unit_stop.stop_end_time IS '停用结束时间';
COMMENT ON COLUMN dp_unit_stop.stop_reason IS '停用原因';
COMMENT ON COLUMN dp_unit_stop.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_unit_stop.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_unit_stop.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_unit_stop.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_unit_stop.update_by IS '最后修改人';
COMMENT ON COLUMN dp_unit_stop.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_unit_stop.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_unit_stop.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_risk_zone: 安全风险分区（四色图分区）
CREATE TABLE dp_risk_zone (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	zone_code VARCHAR2(50 CHAR) NOT NULL,
	zone_name VARCHAR2(200 CHAR) NOT NULL,
	risk_level VARCHAR2(1 CHAR) NOT NULL,
	colour VARCHAR2(2 CHAR) NOT NULL,
	coordinates VARCHAR2(1000 CHAR),
	department VARCHAR2(200 CHAR),
	evaluator VARCHAR2(50 CHAR),
	review_date DATE,
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_zone_area_code ON dp_risk_zone (area_code);
CREATE INDEX ix_dp_risk_zone_company_code ON dp_risk_zone (company_code);
COMMENT ON TABLE dp_risk_zone IS '安全风险分区（四色图分区）：Zones of the company''s four-colour risk map; no national table exists.';
COMMENT ON COLUMN dp_risk_zone.id IS '风险分区ID：UUID';
COMMENT ON COLUMN dp_risk_zone.company_code IS '企业编码';
COMMENT ON COLUMN dp_risk_zone.zone_code IS '风险分区编号';
COMMENT ON COLUMN dp_risk_zone.zone_name IS '风险分区名称';
COMMENT ON COLUMN dp_risk_zone.risk_level IS '风险等级';
COMMENT ON COLUMN dp_risk_zone.colour IS '颜色：红/橙/黄/蓝';
COMMENT ON COLUMN dp_risk_zone.coordinates IS '风险坐标范围：zone outline as the source stores it';
COMMENT ON COLUMN dp_risk_zone.department IS '所在部门';
COMMENT ON COLUMN dp_risk_zone.evaluator IS '评价人';
COMMENT ON COLUMN dp_risk_zone.review_date IS '复评日期';
COMMENT ON COLUMN dp_risk_zone.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_risk_zone.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_risk_zone.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_risk_zone.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_risk_zone.update_by IS '最后修改人';
COMMENT ON COLUMN dp_risk_zone.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_risk_zone.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_risk_zone.run_id IS '同步批次：id of the syncd run that wrote the row';

-- dp_risk_map: 安全风险四色分布图
CREATE TABLE dp_risk_map (
	id VARCHAR2(36 CHAR) NOT NULL,
	company_code VARCHAR2(9 CHAR) NOT NULL,
	map_name VARCHAR2(200 CHAR) NOT NULL,
	file_name VARCHAR2(200 CHAR) NOT NULL,
	media_type VARCHAR2(50 CHAR) NOT NULL,
	image BLOB NOT NULL,
	deleted VARCHAR2(1 CHAR) DEFAULT '0' NOT NULL,
	create_date DATE NOT NULL,
	create_by VARCHAR2(100 CHAR) NOT NULL,
	update_date DATE NOT NULL,
	update_by VARCHAR2(100 CHAR) NOT NULL,
	area_code VARCHAR2(12 CHAR) NOT NULL,
	sync_time DATE NOT NULL,
	run_id VARCHAR2(64 CHAR) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_map_area_code ON dp_risk_map (area_code);
CREATE INDEX ix_dp_risk_map_company_code ON dp_risk_map (company_code);
COMMENT ON TABLE dp_risk_map IS '安全风险四色分布图：The map images (总平图、车间图) of a company, stored as files.';
COMMENT ON COLUMN dp_risk_map.id IS '分布图ID：UUID';
COMMENT ON COLUMN dp_risk_map.company_code IS '企业编码';
COMMENT ON COLUMN dp_risk_map.map_name IS '图名称';
COMMENT ON COLUMN dp_risk_map.file_name IS '文件名';
COMMENT ON COLUMN dp_risk_map.media_type IS '文件类型：MIME type: image/png, image/jpeg';
COMMENT ON COLUMN dp_risk_map.image IS '图片：file content';
COMMENT ON COLUMN dp_risk_map.deleted IS '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1';
COMMENT ON COLUMN dp_risk_map.create_date IS '创建时间：creation time in the enterprise/county system';
COMMENT ON COLUMN dp_risk_map.create_by IS '创建人：name of the person who created the record';
COMMENT ON COLUMN dp_risk_map.update_date IS '最后修改时间：equals create_date on first insert';
COMMENT ON COLUMN dp_risk_map.update_by IS '最后修改人';
COMMENT ON COLUMN dp_risk_map.area_code IS '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)';
COMMENT ON COLUMN dp_risk_map.sync_time IS '同步时间：time syncd wrote the row';
COMMENT ON COLUMN dp_risk_map.run_id IS '同步批次：id of the syncd run that wrote the row';
